/**
 * Writes a bundle's tar in one streaming pass with tar-stream. Deterministic: entries in
 * byte order of their paths (each folder before its contents), every mtime the release's
 * seal time, uid/gid 0, empty user and group names, modes 0755 (folders, install.sh) and
 * 0644. Headers are ustar; a path too long for ustar gets a pax header, which tar-stream
 * derives from the path alone, so that is deterministic too.
 */
import { once } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import { pack as createPack, type Header, type Pack } from "tar-stream";

type Headers = Partial<Header> & Pick<Header, "name">;
import type { BundleFile } from "./bundles.layout.js";

export interface TarProgress {
  bytes: number;
  files: number;
}

export interface WriteTarOptions {
  mtime: Date;
  openBlob: (sha256: string, signal: AbortSignal) => Promise<Readable>;
  signal: AbortSignal;
  onProgress?: (progress: TarProgress) => void;
}

type TarItem = { name: string; dir: true } | { name: string; dir?: false; file: BundleFile };

/** Every entry (folders and files) under `folder`, sorted. */
export function tarItems(folder: string, files: BundleFile[]): TarItem[] {
  const dirs = new Set<string>([folder]);
  for (const file of files) {
    const parts = file.path.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(`${folder}/${parts.slice(0, i).join("/")}`);
  }
  const items: TarItem[] = [...dirs].map((name) => ({ name, dir: true as const }));
  for (const file of files) items.push({ name: `${folder}/${file.path}`, file });
  return items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The tar as a Node stream; it fails (and stops reading blobs) on any error or on abort. */
export function writeTar(folder: string, files: BundleFile[], options: WriteTarOptions): Readable {
  const pack = createPack();
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  const fail = (error: unknown) => {
    pack.destroy(error as Error);
    out.destroy(error as Error);
  };
  pack.on("error", (error: Error) => out.destroy(error));
  pack.pipe(out as unknown as NodeJS.WritableStream);
  const abort = () => fail(options.signal.reason ?? new Error("bundle build aborted"));
  options.signal.addEventListener("abort", abort, { once: true });
  void fill(pack, folder, files, options)
    .then(() => pack.finalize())
    .catch(fail)
    .finally(() => options.signal.removeEventListener("abort", abort));
  return out;
}

async function fill(pack: Pack, folder: string, files: BundleFile[], options: WriteTarOptions): Promise<void> {
  const common = { mtime: options.mtime, uid: 0, gid: 0, uname: "", gname: "" };
  const progress: TarProgress = { bytes: 0, files: 0 };
  for (const item of tarItems(folder, files)) {
    options.signal.throwIfAborted();
    if (item.dir) {
      await entry(pack, { ...common, name: item.name, type: "directory", mode: 0o755 });
      continue;
    }
    const { file } = item;
    const header = { ...common, name: item.name, type: "file" as const, mode: file.mode, size: file.size };
    if ("bytes" in file.source) {
      await entry(pack, header, file.source.bytes);
      progress.bytes += file.size;
    } else {
      const source = await options.openBlob(file.source.blob, options.signal);
      await streamEntry(pack, header, source, (n) => {
        progress.bytes += n;
        options.onProgress?.(progress);
      });
    }
    progress.files += 1;
    options.onProgress?.(progress);
  }
}

function entry(pack: Pack, header: Headers, content?: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const callback = (error?: Error | null) => (error ? reject(error) : resolve());
    if (content) pack.entry(header, content, callback);
    else pack.entry(header, callback);
  });
}

/** Copies a blob into its entry with backpressure; the blob store verifies its sha256 as it streams. */
async function streamEntry(pack: Pack, header: Headers, source: Readable, counted: (bytes: number) => void): Promise<void> {
  let done!: () => void;
  let failed!: (error: Error) => void;
  const written = new Promise<void>((resolve, reject) => {
    done = resolve;
    failed = reject;
  });
  written.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
  const sink = pack.entry(header, (error?: Error | null) => (error ? failed(error) : done()));
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      counted(chunk.length);
      if (!sink.write(chunk)) await Promise.race([once(sink as unknown as NodeJS.EventEmitter, "drain"), written]);
    }
  } catch (error) {
    sink.destroy(error as Error);
    throw error;
  }
  sink.end(undefined as never);
  await written;
}
