/**
 * SHA-256 of a stream, computed off the event loop.
 *
 * Ferry hashes every byte it stores or serves (SPEC §8). On the event loop that hash is
 * the largest cost of a transfer: about 0.7 s per GiB here, during which the loop cannot
 * read the disk or write the socket. A large stream is hashed instead by OpenSSL's
 * SHA-256, the one Node is built with and whose symbols the `node` binary exports for
 * native addons, called through koffi on libuv's thread pool: one call per span of the
 * stream, in order, so hashing runs beside the disk and socket work on another core.
 *
 * This replaced a worker thread fed through a shared ring. That thread's V8 isolate held
 * ~11 MiB for the life of the process, and to hash pooled chunks without a copy it needed
 * them in shared memory, which V8 does not count as external memory and so never hurried to
 * collect (docs/BENCHMARKS.md). A native call takes any buffer where it is.
 *
 * A chunk read into a pooled read buffer (read-buffers.ts) is hashed where it is and held
 * until then. Any other chunk is copied into a 1 MiB span first: the HTTP parser hands
 * uploads over in 64 KiB chunks, and a call per chunk would cost more than the copy.
 *
 * Small content is not worth the hop, and one core stays for the event loop, so
 * `createSha256` hashes inline when the content is known to be small, when cores − 1
 * sessions are already off the loop, or where the native functions cannot be bound (no
 * koffi binary for the platform, or a `node` without OpenSSL's symbols): slower, never wrong.
 */
import { createHash, type Hash } from "node:crypto";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import { holdReadChunk } from "./read-buffers.js";

/** An incremental SHA-256. `update` may wait (backpressure) when hashing is behind. */
export interface StreamingSha256 {
  update(chunk: Buffer): void | Promise<void>;
  digest(): Promise<string>;
  /** Frees the session's resources without a digest (the stream failed). Safe to call twice. */
  release(): void;
}

/** Content smaller than this (when its size is known) is hashed inline. */
const OFFLOAD_MIN_BYTES = 4 * 1024 * 1024;
/** Bytes of one session waiting to be hashed: how far the reader may run ahead. */
const MAX_QUEUED_BYTES = 4 * 1024 * 1024;
/** Copied chunks are gathered into spans of this size: one native call per MiB. */
const SPAN_BYTES = 1024 * 1024;
/** Spare span buffers a session keeps for reuse. */
const MAX_SPARE_SPANS = 2;
/** `sizeof(SHA256_CTX)` is 112 bytes; the rest is room to spare. */
const SHA256_CTX_BYTES = 256;
/**
 * At most this many sessions hash off the loop at once; the rest hash inline. One core stays
 * for the event loop: with more hashes off the loop than spare cores (a bundle build verifies
 * and hashes at once) they only compete with the loop, and measured slower than hashing one
 * of the two inline (docs/BENCHMARKS.md).
 */
const MAX_SESSIONS = Math.max(1, availableParallelism() - 1);

export function createSha256(expectedBytes?: number): StreamingSha256 {
  if (expectedBytes !== undefined && expectedBytes < OFFLOAD_MIN_BYTES) return new InlineSha256();
  const openssl = nativeSha256();
  if (!openssl || sessionsOffLoop >= MAX_SESSIONS) return new InlineSha256();
  return new ThreadPoolSha256(openssl);
}

/** Sessions currently hashing off the event loop (for tests and diagnostics). */
export function offloadedSessions(): number {
  return sessionsOffLoop;
}

/** Whether large streams can be hashed off the event loop in this process. */
export function canHashOffLoop(): boolean {
  return nativeSha256() !== null;
}

class InlineSha256 implements StreamingSha256 {
  private readonly hash: Hash = createHash("sha256");

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  async digest(): Promise<string> {
    return this.hash.digest("hex");
  }

  release(): void {}
}

interface NativeSha256 {
  init(context: Buffer): void;
  /** SHA256_Update on a thread-pool thread; `done` runs on the event loop. */
  updateOffLoop(context: Buffer, data: Buffer, done: (error: Error | null) => void): void;
  final(context: Buffer): string;
}

let native: NativeSha256 | null | undefined;

/** OpenSSL's SHA-256 from the running `node`, or null where it cannot be bound. */
function nativeSha256(): NativeSha256 | null {
  if (native !== undefined) return native;
  native = null;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    // null: the symbols of the running program and what it loaded (Node's own OpenSSL,
    // or a shared libcrypto on distributions that link it).
    const self = koffi.load(null);
    const init = self.func("int SHA256_Init(void *context)");
    const update = self.func("int SHA256_Update(void *context, const void *data, size_t length)");
    const final = self.func("int SHA256_Final(void *md, void *context)");
    const check = (ok: unknown, what: string) => {
      if (ok !== 1) throw new Error(`${what} failed`);
    };
    const candidate: NativeSha256 = {
      init: (context) => check(init(context), "SHA256_Init"),
      updateOffLoop: (context, data, done) =>
        update.async(context, data, data.length, (error: unknown, ok: unknown) => {
          if (error) done(error instanceof Error ? error : new Error(String(error)));
          else if (ok !== 1) done(new Error("SHA256_Update failed"));
          else done(null);
        }),
      final: (context) => {
        const md = Buffer.alloc(32);
        check(final(md, context), "SHA256_Final");
        return md.toString("hex");
      },
    };
    // A binding that computed anything else would corrupt every checksum: prove it first.
    const context = Buffer.alloc(SHA256_CTX_BYTES);
    const sample = Buffer.from("ferry: the binding must agree with node:crypto");
    candidate.init(context);
    check(update(context, sample, sample.length), "SHA256_Update");
    if (candidate.final(context) !== createHash("sha256").update(sample).digest("hex")) return native;
    native = candidate;
  } catch {
    // No koffi binary for this platform, or no OpenSSL symbols: hash inline.
  }
  return native;
}

let sessionsOffLoop = 0;

/** Bytes to hash, and what to do once the native call is done with them. */
interface Span {
  data: Buffer;
  done(): void;
}

class ThreadPoolSha256 implements StreamingSha256 {
  private readonly context = Buffer.alloc(SHA256_CTX_BYTES);
  /** The span copied chunks are gathered into, and how much of it is filled. */
  private gathering: Buffer | null = null;
  private gathered = 0;
  private readonly spare: Buffer[] = [];
  /** Spans not yet hashed, in order; the first is in a native call while `calling`. */
  private readonly queue: Span[] = [];
  private queuedBytes = 0;
  private calling = false;
  private failure: Error | undefined;
  private finished = false;
  private holdsSlot = true;
  /** Woken whenever a call ends (room in the queue, or everything hashed) or hashing failed. */
  private waiters: Array<() => void> = [];

  constructor(private readonly openssl: NativeSha256) {
    sessionsOffLoop += 1;
    openssl.init(this.context);
  }

  update(chunk: Buffer): void | Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.finished) return Promise.reject(new Error("sha256 session already finished"));
    const release = holdReadChunk(chunk);
    if (release) return this.hashInPlace(chunk, release);
    return this.gather(chunk, 0);
  }

  async digest(): Promise<string> {
    if (this.finished) throw new Error("sha256 session already finished");
    this.flushGathered();
    this.finished = true;
    try {
      await this.until(() => this.queue.length === 0);
      return this.openssl.final(this.context);
    } finally {
      this.freeSlot();
    }
  }

  release(): void {
    if (this.finished) return;
    this.finished = true;
    // Spans not yet handed to a call are dropped (their holds released); one in a call
    // finishes first, and the slot is freed once it has.
    const waiting = this.queue.splice(this.calling ? 1 : 0);
    for (const span of waiting) {
      this.queuedBytes -= span.data.length;
      span.done();
    }
    this.gathering = null;
    if (!this.calling) this.freeSlot();
  }

  /** A pooled chunk, hashed where it is once the queue has room for it. */
  private hashInPlace(chunk: Buffer, release: () => void): void | Promise<void> {
    this.flushGathered();
    if (this.hasRoom(chunk.length)) return this.enqueue({ data: chunk, done: release });
    return this.until(() => this.hasRoom(chunk.length)).then(
      () => (this.finished ? release() : this.enqueue({ data: chunk, done: release })),
      (error: unknown) => {
        release();
        throw error;
      },
    );
  }

  /** Copies `chunk` from `offset` into spans, waiting for room before starting each new one. */
  private gather(chunk: Buffer, offset: number): void | Promise<void> {
    while (offset < chunk.length) {
      if (!this.gathering) {
        if (!this.hasRoom(SPAN_BYTES)) {
          const from = offset;
          return this.until(() => this.hasRoom(SPAN_BYTES)).then(() => (this.finished ? undefined : this.gather(chunk, from)));
        }
        this.gathering = this.spare.pop() ?? Buffer.allocUnsafeSlow(SPAN_BYTES);
        this.gathered = 0;
      }
      const copied = chunk.copy(this.gathering, this.gathered, offset);
      this.gathered += copied;
      offset += copied;
      if (this.gathered === SPAN_BYTES) this.flushGathered();
    }
  }

  private flushGathered(): void {
    const span = this.gathering;
    if (!span || this.gathered === 0) return;
    this.gathering = null;
    this.enqueue({
      data: this.gathered === span.length ? span : span.subarray(0, this.gathered),
      done: () => {
        if (this.spare.length < MAX_SPARE_SPANS && !this.finished) this.spare.push(span);
      },
    });
  }

  /** Room for `bytes` more: below the limit, or nothing queued at all (one larger chunk still goes). */
  private hasRoom(bytes: number): boolean {
    return this.queuedBytes === 0 || this.queuedBytes + bytes <= MAX_QUEUED_BYTES;
  }

  private enqueue(span: Span): void {
    this.queue.push(span);
    this.queuedBytes += span.data.length;
    this.callNext();
  }

  /** One call at a time: SHA256_Update must see the spans in order, on one context. */
  private callNext(): void {
    if (this.calling || this.failure) return;
    const span = this.queue[0];
    if (!span) return;
    this.calling = true;
    this.openssl.updateOffLoop(this.context, span.data, (error) => {
      this.calling = false;
      this.queue.shift();
      this.queuedBytes -= span.data.length;
      span.done();
      if (error) this.fail(error);
      else if (this.finished && this.queue.length === 0) this.freeSlot();
      else this.callNext();
      this.wake();
    });
  }

  private fail(error: Error): void {
    this.failure = error;
    for (const span of this.queue.splice(0)) span.done();
    this.queuedBytes = 0;
    this.freeSlot();
  }

  /** Resolves once `condition` holds; rejects if hashing fails first. */
  private until(condition: () => boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.failure) return reject(this.failure);
        if (condition()) return resolve();
        this.waiters.push(check);
      };
      check();
    });
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  private freeSlot(): void {
    if (!this.holdsSlot) return;
    this.holdsSlot = false;
    sessionsOffLoop -= 1;
  }
}
