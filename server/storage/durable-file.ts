/**
 * A write stream for blob files that is durable when it finishes and fast while it runs.
 *
 * `fs.createWriteStream(..., { flush: true })` is durable too, but on a 1 GiB upload the page
 * cache absorbs every byte and the whole gigabyte then goes to disk in the final fsync,
 * after the last byte arrived: the disk sits idle while the network works, then the other
 * way round. Here writes are batched (writev of whatever queued while the previous write
 * ran) and every `syncEveryBytes` a background fdatasync starts, so the disk writes back
 * while the upload is still arriving and the final fsync only has the tail left.
 */
import { open, type FileHandle } from "node:fs/promises";
import { Writable } from "node:stream";
import { returnReadChunk } from "./read-buffers.js";

export interface DurableFileOptions {
  mode?: number;
  /** Start a background fdatasync after this many bytes since the last one. Default 32 MiB. */
  syncEveryBytes?: number;
}

/**
 * Chunks queue up to this much while a write is in flight; writev then takes them all at
 * once. 2 MiB rather than 8: 1 GiB uploads measured 417–503 MB/s against 355–418, with
 * 6–12 MiB less memory at the peak; bundle builds stayed within their noise
 * (docs/BENCHMARKS.md, 2026-12-07).
 */
const QUEUE_BYTES = 2 * 1024 * 1024;

export class DurableFileWriter extends Writable {
  private handle: FileHandle | undefined;
  private readonly opening: Promise<FileHandle>;
  private unsyncedBytes = 0;
  private backgroundSync: Promise<void> | undefined;
  private syncFailure: Error | undefined;
  private readonly syncEveryBytes: number;

  /** Opens `file` exclusively (it must not exist). Open errors surface as a stream error. */
  constructor(readonly file: string, options: DurableFileOptions = {}) {
    super({ highWaterMark: QUEUE_BYTES });
    this.syncEveryBytes = options.syncEveryBytes ?? 32 * 1024 * 1024;
    this.opening = open(file, "wx", options.mode ?? 0o640);
    // Keep an open failure from being reported as unhandled before _construct sees it.
    this.opening.catch(() => undefined);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.opening.then(
      (handle) => {
        this.handle = handle;
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.writeAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.writeAll(chunks.map((entry) => entry.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const handle = this.handle!;
    (async () => {
      await this.backgroundSync;
      if (this.syncFailure) throw this.syncFailure;
      await handle.sync();
    })().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const handle = this.handle;
    this.handle = undefined;
    // A background sync may still hold the descriptor: close only after it settled.
    Promise.resolve(this.backgroundSync)
      .then(() => handle?.close())
      .then(
        () => callback(error),
        (closeError: Error) => callback(error ?? closeError),
      );
  }

  private async writeAll(buffers: Buffer[]): Promise<void> {
    const handle = this.handle!;
    if (this.syncFailure) throw this.syncFailure;
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await handle.writev(pending);
      this.unsyncedBytes += bytesWritten;
      pending = remainderAfter(pending, bytesWritten);
    }
    // Written: nothing reads these chunks again, so pooled read buffers may be reused.
    for (const buffer of buffers) returnReadChunk(buffer);
    if (this.unsyncedBytes >= this.syncEveryBytes && this.backgroundSync === undefined) {
      this.unsyncedBytes = 0;
      // A failure is kept and fails the next write or the finish: never lost.
      this.backgroundSync = handle.datasync().then(
        () => {
          this.backgroundSync = undefined;
        },
        (error: Error) => {
          this.syncFailure = error;
          this.backgroundSync = undefined;
        },
      );
    }
  }
}

/** What is left of `buffers` after a short write of `written` bytes. */
function remainderAfter(buffers: Buffer[], written: number): Buffer[] {
  let skip = written;
  let index = 0;
  while (index < buffers.length && skip >= buffers[index]!.length) {
    skip -= buffers[index]!.length;
    index += 1;
  }
  if (index === buffers.length) return [];
  return [buffers[index]!.subarray(skip), ...buffers.slice(index + 1)];
}
