/**
 * SHA-256 of a stream, computed on a worker thread.
 *
 * Ferry hashes every byte it stores or serves (SPEC §8). On the event loop that hash is
 * the largest cost of a transfer: about 0.9 s per GiB here, during which the loop cannot
 * read the disk or write the socket. A large stream's bytes are copied into a ring buffer
 * shared with a hashing thread instead, so hashing runs beside the I/O on another core.
 * A chunk read into a pooled read buffer (read-buffers.ts, shared memory) is not copied:
 * the thread hashes it where it is, and holds it until then.
 *
 * Small or size-unknown-but-short content is not worth a thread hop, and each ring costs
 * memory, so `createSha256` hashes inline when the content is known to be small or every
 * ring is in use.
 */
import { createHash, type Hash } from "node:crypto";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { holdReadChunk } from "./read-buffers.js";

/** An incremental SHA-256. `update` may wait (backpressure) when the hashing thread is behind. */
export interface StreamingSha256 {
  update(chunk: Buffer): void | Promise<void>;
  digest(): Promise<string>;
  /** Frees the session's resources without a digest (the stream failed). Safe to call twice. */
  release(): void;
}

/** Content smaller than this (when its size is known) is hashed inline. */
const OFFLOAD_MIN_BYTES = 4 * 1024 * 1024;
/** Bytes of one session's ring: how far the reader may run ahead of the hashing thread. */
const RING_BYTES = 4 * 1024 * 1024;
/**
 * At most this many sessions hash off-thread at once; the rest hash inline. One core stays
 * for the event loop: with more hashing threads than spare cores (a bundle build verifies
 * and hashes at once) the threads only compete with the loop, and measured slower than
 * hashing one of the two inline. Memory: MAX_RINGS × RING_BYTES.
 */
const MAX_RINGS = Math.max(1, availableParallelism() - 1);
/** Bytes copied into the ring before the thread is told about them: fewer, larger messages. */
const POST_BATCH_BYTES = 1024 * 1024;

export function createSha256(expectedBytes?: number): StreamingSha256 {
  if (expectedBytes !== undefined && expectedBytes < OFFLOAD_MIN_BYTES) return new InlineSha256();
  const ring = rings.acquire();
  if (!ring) return new InlineSha256();
  return new OffloadedSha256(ring, hashers.pick());
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

/**
 * A ring of RING_BYTES plus two counters in shared memory: bytes written (by this thread)
 * and bytes hashed (by the worker). Counters wrap at 2^32; their difference never exceeds
 * RING_BYTES, so 32-bit arithmetic stays exact.
 */
interface Ring {
  data: SharedArrayBuffer;
  counters: Int32Array;
}
const HASHED = 0;

class RingPool {
  private readonly free: Ring[] = [];
  private inUse = 0;

  acquire(): Ring | undefined {
    if (this.inUse >= MAX_RINGS) return undefined;
    this.inUse += 1;
    const ring = this.free.pop() ?? { data: new SharedArrayBuffer(RING_BYTES), counters: new Int32Array(new SharedArrayBuffer(8)) };
    Atomics.store(ring.counters, HASHED, 0);
    return ring;
  }

  giveBack(ring: Ring): void {
    this.inUse -= 1;
    this.free.push(ring);
  }

  get used(): number {
    return this.inUse;
  }
}

/** A span hashed in place (`spanHashed`), or a session's one final reply. */
type WorkerReply = { session: number; spanHashed?: true; digest?: string; error?: string };

interface SessionWaiter {
  resolve(digest: string | undefined): void;
  reject(error: Error): void;
  /** The thread is done with the oldest span it was given to hash in place. */
  spanHashed(): void;
}

/** One hashing thread, started on first use and kept idle (unref'd) afterwards. */
class Hasher {
  private worker: Worker | undefined;
  private readonly waiting = new Map<number, SessionWaiter>();
  sessions = 0;

  post(message: unknown): void {
    this.started().postMessage(message);
  }

  /**
   * The session's one reply: its digest, or undefined once a dropped session is done with
   * its ring. It rejects if the thread fails, which also wakes a writer waiting for room.
   */
  expectReply(session: number, spanHashed: () => void): Promise<string | undefined> {
    const worker = this.started();
    // Referenced while a reply is owed, so a process awaiting a digest does not exit under it.
    if (this.waiting.size === 0) worker.ref();
    const reply = new Promise<string | undefined>((resolve, reject) => this.waiting.set(session, { resolve, reject, spanHashed }));
    reply.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
    return reply;
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(HASH_THREAD_SOURCE, { eval: true, name: "ferry-sha256" });
    worker.on("message", (reply: WorkerReply) => {
      const waiter = this.waiting.get(reply.session);
      if (!waiter) return;
      if (reply.spanHashed) {
        waiter.spanHashed();
        return;
      }
      this.waiting.delete(reply.session);
      if (this.waiting.size === 0) worker.unref();
      if (reply.error !== undefined) waiter.reject(new Error(`hashing thread: ${reply.error}`));
      else waiter.resolve(reply.digest);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiter of this.waiting.values()) waiter.reject(error);
      this.waiting.clear();
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`hashing thread exited with code ${code}`)));
    // After the listeners: an idle hashing thread must not keep the process alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

class HasherPool {
  private readonly hashers: Hasher[] = [];

  /** The thread with the fewest open sessions. */
  pick(): Hasher {
    const size = MAX_RINGS;
    while (this.hashers.length < size) this.hashers.push(new Hasher());
    return this.hashers.reduce((best, hasher) => (hasher.sessions < best.sessions ? hasher : best));
  }
}

/** Atomics.waitAsync (Node 16+); typed here because the project's TypeScript lib predates ES2024. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

const rings = new RingPool();
const hashers = new HasherPool();
let nextSession = 1;

/** Sessions currently hashing off-thread (for tests and diagnostics). */
export function offloadedSessions(): number {
  return rings.used;
}

class OffloadedSha256 implements StreamingSha256 {
  private readonly session = nextSession++;
  private readonly bytes: Uint8Array;
  private readonly reply: Promise<string | undefined>;
  /** Bytes copied into the ring so far (mod 2^32), and how many of them the thread was told about. */
  private written = 0;
  private posted = 0;
  private finished = false;
  /** Releases of the chunks given to the thread to hash in place, oldest first. */
  private readonly held: Array<() => void> = [];

  constructor(
    private readonly ring: Ring,
    private readonly hasher: Hasher,
  ) {
    this.bytes = new Uint8Array(ring.data);
    hasher.sessions += 1;
    // After a thread failure the held chunks are never released: their buffers are not reused.
    this.reply = hasher.expectReply(this.session, () => this.held.shift()?.());
    hasher.post({ type: "open", session: this.session, data: ring.data, counters: ring.counters });
    // The thread answers a session only after every span posted before, so once the reply
    // is in the ring is no longer read and may serve the next session. After a thread
    // failure nobody reads it either.
    this.reply.then(
      () => rings.giveBack(ring),
      () => rings.giveBack(ring),
    );
  }

  async update(chunk: Buffer): Promise<void> {
    if (chunk.buffer instanceof SharedArrayBuffer && chunk.length <= RING_BYTES) {
      const release = holdReadChunk(chunk);
      if (release) return this.hashInPlace(chunk, release);
    }
    let offset = 0;
    while (offset < chunk.length) {
      const room = RING_BYTES - this.unhashed();
      if (room === 0) {
        this.flushBatch();
        await this.waitForRoom(1);
        continue;
      }
      const at = this.written % RING_BYTES >>> 0;
      const take = Math.min(room, chunk.length - offset, RING_BYTES - at);
      this.bytes.set(chunk.subarray(offset, offset + take), at);
      offset += take;
      this.written = (this.written + take) >>> 0;
      if (((this.written - this.posted) >>> 0) >= POST_BATCH_BYTES) this.flushBatch();
    }
  }

  /**
   * Has the thread hash a pooled chunk where it is, in order with the ring's bytes. Its bytes
   * count against the ring's room as if copied, so the reader runs no further ahead of the
   * thread than with copies (RING_BYTES), and the ring's offsets stay consistent: ring bytes
   * go at `written`, and in-place spans only advance it.
   */
  private async hashInPlace(chunk: Buffer, release: () => void): Promise<void> {
    try {
      this.flushBatch();
      await this.waitForRoom(chunk.length);
    } catch (error) {
      release();
      throw error;
    }
    this.written = (this.written + chunk.length) >>> 0;
    this.posted = this.written;
    this.held.push(release);
    this.hasher.post({ type: "hash-shared", session: this.session, data: chunk.buffer, start: chunk.byteOffset, length: chunk.length });
  }

  async digest(): Promise<string> {
    this.flushBatch();
    this.finish("digest");
    const digest = await this.reply;
    if (digest === undefined) throw new Error("hashing thread sent no digest");
    return digest;
  }

  release(): void {
    this.finish("drop");
  }

  private finish(type: "digest" | "drop"): void {
    if (this.finished) return;
    this.finished = true;
    this.hasher.sessions -= 1;
    this.hasher.post({ type, session: this.session });
  }

  private unhashed(): number {
    return (this.written - Atomics.load(this.ring.counters, HASHED)) >>> 0;
  }

  private flushBatch(): void {
    const length = (this.written - this.posted) >>> 0;
    if (length === 0) return;
    this.hasher.post({ type: "hash", session: this.session, start: this.posted % RING_BYTES >>> 0, length });
    this.posted = this.written;
  }

  /** Until the ring has room for `bytes`, or the thread failed (then the reply's rejection surfaces here). */
  private async waitForRoom(bytes: number): Promise<void> {
    for (;;) {
      const seen = Atomics.load(this.ring.counters, HASHED);
      if (RING_BYTES - this.unhashed() >= bytes) return;
      const wait = waitAsync(this.ring.counters, HASHED, seen);
      if (wait.async) {
        await Promise.race([wait.value, this.reply.then(() => Promise.reject(new Error("hashing thread answered a session still being written")))]);
      }
    }
  }
}

/**
 * The hashing thread. Plain JavaScript evaluated as a worker (no file to resolve, so it
 * works the same from TypeScript sources and from a bundle). Messages of one session arrive
 * in order; a `hash` message names a span of the ring, which may wrap around its end, and a
 * `hash-shared` one a span of a pooled read buffer, answered once it is hashed.
 */
const HASH_THREAD_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const v8 = require("node:v8");
const vm = require("node:vm");
const sessions = new Map();
// Each hash-shared message brings its own handle on a shared read buffer. Those buffers
// live as long as the process, except one lost with a destroyed stream: its memory goes
// once no thread holds a handle on it, and this thread makes so little garbage that its
// own collections could be gigabytes of traffic apart. So a session that hashed in place
// ends with a young-generation collection.
let collect = () => {};
try {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc");
  if (typeof gc === "function") collect = () => gc({ type: "minor" });
} catch {}
function ended(state) {
  if (state.inPlace) collect();
}
parentPort.on("message", (message) => {
  const { type, session } = message;
  if (type === "open") {
    sessions.set(session, { hash: createHash("sha256"), data: Buffer.from(message.data), counters: message.counters });
    return;
  }
  const state = sessions.get(session);
  if (!state) return;
  try {
    if (type === "hash") {
      const size = state.data.length;
      const first = Math.min(message.length, size - message.start);
      state.hash.update(state.data.subarray(message.start, message.start + first));
      if (first < message.length) state.hash.update(state.data.subarray(0, message.length - first));
      Atomics.add(state.counters, 0, message.length);
      Atomics.notify(state.counters, 0);
    } else if (type === "hash-shared") {
      state.inPlace = true;
      state.hash.update(new Uint8Array(message.data, message.start, message.length));
      Atomics.add(state.counters, 0, message.length);
      Atomics.notify(state.counters, 0);
      parentPort.postMessage({ session, spanHashed: true });
    } else if (type === "digest") {
      sessions.delete(session);
      parentPort.postMessage({ session, digest: state.hash.digest("hex") });
      ended(state);
    } else if (type === "drop") {
      sessions.delete(session);
      parentPort.postMessage({ session });
      ended(state);
    }
  } catch (error) {
    sessions.delete(session);
    parentPort.postMessage({ session, error: String(error && error.message || error) });
  }
});
`;
