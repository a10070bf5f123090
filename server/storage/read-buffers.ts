/**
 * Read buffers reused across the blob reads of one long job: a bundle build, or one large
 * download. A fresh 1 MiB buffer per read is, to V8, external memory that only a full
 * garbage collection frees once the buffer has outlived a young-generation collection:
 * a 2 GiB build then ran 70+ back-to-back Mark-Compacts in a worker (docs/BENCHMARKS.md)
 * and left the process holding tens of MiB of freed buffers.
 *
 * A chunk read into a pooled buffer is lent out as one exact Buffer object. The writer
 * that finally puts chunks on disk (DurableFileWriter) or on a socket (send-blob.ts
 * `responseWriter`) hands each one back with `returnReadChunk` once its write has
 * completed. A hash on the way either copies the chunk before passing it on or, hashing it
 * in place on another thread, holds it (`holdReadChunk`) until it is done. A stage that
 * copies, slices or concatenates chunks passes on other objects, which are never handed
 * back: the pool then allocates a new buffer, so a chunk that is not returned costs
 * memory, never correctness. The one rule: a lent chunk goes to a single writer (no tee),
 * since its return lets the pool reuse it.
 */

export const READ_BUFFER_BYTES = 1024 * 1024;
/** More free buffers than a pipeline holds in flight is memory nobody reads into. */
const MAX_FREE = 32;

interface Lease {
  pool: ReadBufferPool;
  buffer: Buffer;
  /** Whether the writer has handed the chunk back. */
  returned: boolean;
  /** Readers still using the chunk where it is (a hashing thread): see holdReadChunk. */
  holds: number;
}

/** Chunks lent out and not yet returned, by the exact object handed out. */
const leases = new WeakMap<Buffer, Lease>();
/** Buffers allocated by every pool of the process (for tests and diagnostics). */
let allocatedInProcess = 0;

/**
 * Shared-memory buffers, which a hashing thread can read where they are (sha256-offload.ts),
 * are few and kept for the life of the process, shared by all pools. V8 does not count a
 * SharedArrayBuffer as external memory, so dropping them with each pool left them for a
 * collection that nothing started: a server grew by ~7 MiB with every 64 MiB download
 * (docs/BENCHMARKS.md). Past the limit, pools read into ordinary buffers, which are
 * hashed by copy.
 */
const SHARED_BUFFER_LIMIT = 8;
const sharedFree: Buffer[] = [];
/** Shared buffers not yet collected: free, lent, or lost by a stream that was destroyed. */
let sharedAlive = 0;
/** A lost shared buffer makes room for a new one once it has been collected. */
const sharedCollected = new FinalizationRegistry<undefined>(() => {
  sharedAlive -= 1;
});

export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  /** Buffers this pool allocated (for tests and logs). */
  allocated = 0;

  constructor(readonly bufferBytes = READ_BUFFER_BYTES) {}

  /** A buffer to read into: a returned one when there is one, else a new one. */
  take(): Buffer {
    const reused = (this.bufferBytes === READ_BUFFER_BYTES ? sharedFree.pop() : undefined) ?? this.free.pop();
    if (reused) return reused;
    this.allocated += 1;
    allocatedInProcess += 1;
    if (this.bufferBytes !== READ_BUFFER_BYTES || sharedAlive >= SHARED_BUFFER_LIMIT) return Buffer.allocUnsafeSlow(this.bufferBytes);
    sharedAlive += 1;
    const buffer = Buffer.from(new SharedArrayBuffer(READ_BUFFER_BYTES));
    sharedCollected.register(buffer, undefined);
    return buffer;
  }

  /** The first `length` bytes of `buffer` as a chunk to pass on; returning it frees `buffer` for reuse. */
  lend(buffer: Buffer, length: number): Buffer {
    const chunk = buffer.subarray(0, length);
    leases.set(chunk, { pool: this, buffer, returned: false, holds: 0 });
    return chunk;
  }

  /** Takes back a buffer that was never lent (a read that returned nothing). */
  giveBack(buffer: Buffer): void {
    if (isShared(buffer)) sharedFree.push(buffer);
    else if (this.free.length < MAX_FREE) this.free.push(buffer);
  }
}

function isShared(buffer: Buffer): boolean {
  return buffer.buffer instanceof SharedArrayBuffer;
}

/** Read buffers allocated so far by all pools together. */
export function readBuffersAllocated(): number {
  return allocatedInProcess;
}

/** Whether `chunk` was lent by a pool: its memory is reused, not garbage. */
export function isLentReadChunk(chunk: Buffer): boolean {
  return leases.has(chunk);
}

/**
 * Hands a chunk back to the pool it was lent from, once the writer will not read it again;
 * any other buffer is ignored, and so is a second return. The buffer is reused once every
 * hold on the chunk has been released too.
 */
export function returnReadChunk(chunk: Buffer): void {
  const lease = leases.get(chunk);
  if (!lease || lease.returned) return;
  lease.returned = true;
  reuseWhenFree(chunk, lease);
}

/**
 * Keeps a lent chunk's buffer from being reused, beyond its return, until the function this
 * answers is called: for a reader that goes on using the chunk where it is after passing it
 * on (a hashing thread). Undefined for a chunk no pool lent.
 */
export function holdReadChunk(chunk: Buffer): (() => void) | undefined {
  const lease = leases.get(chunk);
  if (!lease) return undefined;
  lease.holds += 1;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    lease.holds -= 1;
    reuseWhenFree(chunk, lease);
  };
}

function reuseWhenFree(chunk: Buffer, lease: Lease): void {
  if (!lease.returned || lease.holds > 0) return;
  leases.delete(chunk);
  lease.pool.giveBack(lease.buffer);
}
