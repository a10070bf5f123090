/**
 * The lower storage layer (as in zot): a driver only moves bytes under string keys. It knows
 * nothing of SHA-256, deduplication or the database; server/storage/blob-store.ts does.
 *
 * Every driver gives the same two atomicity promises, which are all the blob store needs to
 * keep "nothing partial is ever visible" (SPEC §8):
 *  - `put(key, body)` makes the object visible under `key` only if `body` ends without an
 *    error. If `body` errors (the blob store's hashing stream errors at its end when the
 *    checksum does not match), the signal aborts or storage fails, nothing appears under
 *    `key` and the driver removes what it wrote as far as it can;
 *  - `stage(body)` writes bytes where no key shows them; `publish(staged, key)` then makes
 *    them visible under `key` in one step, used when the key (the digest) is only known
 *    once all the bytes have gone by.
 * Whatever a crash leaves behind of either is invisible and removed by `sweep()`.
 */
import type { Readable } from "node:stream";
import type { ReadBufferPool } from "./read-buffers.js";

/** Inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface SignalOption {
  signal?: AbortSignal;
}

export interface ReadOptions extends SignalOption {
  /** Only this inclusive byte range. */
  range?: ByteRange;
  /**
   * Read into reused buffers (see read-buffers.ts), for long jobs whose chunks end in a
   * DurableFileWriter. A driver may ignore it.
   */
  buffers?: ReadBufferPool;
}

export interface ObjectStat {
  size: number;
  modified: Date;
}

export interface ObjectEntry extends ObjectStat {
  key: string;
}

/** Bytes written by `stage()`, invisible until published. Opaque to callers. */
export interface StagedObject {
  readonly id: string;
}

export interface SweepReport {
  /** Temporary files, staging objects and multipart uploads removed. */
  removed: number;
  /** Kinds of leftovers this store could not enumerate (e.g. a store without ListMultipartUploads). */
  unsupported: string[];
}

export interface StorageDriver {
  readonly kind: "fs" | "s3";
  /** Human-readable location for logs: a directory or s3://bucket/prefix. */
  readonly location: string;

  /** Writes `body` under `key`, atomically (see above). Destroys `body` when writing fails. */
  put(key: string, body: Readable, options?: SignalOption): Promise<void>;
  /** Writes `body` somewhere invisible. Destroys `body` when writing fails. */
  stage(body: Readable, options?: SignalOption): Promise<StagedObject>;
  /** Makes staged bytes visible under `key` (replacing what was there) and forgets the staged copy. */
  publish(staged: StagedObject, key: string, options?: SignalOption): Promise<void>;
  /** Removes staged bytes that will not be published. Never throws for missing ones. */
  discard(staged: StagedObject): Promise<void>;

  /** Streams an object, or the inclusive `range` of it. Throws `notFound` when missing. */
  get(key: string, options?: ReadOptions): Promise<Readable>;
  stat(key: string, options?: SignalOption): Promise<ObjectStat | null>;
  /** Removes an object; a missing one is not an error. */
  delete(key: string, options?: SignalOption): Promise<void>;
  /** Every visible object whose key starts with `prefix`, never the driver's own temporary data. */
  list(prefix: string, options?: SignalOption): AsyncIterable<ObjectEntry>;

  /** Removes incomplete writes last touched before `olderThan` (crash leftovers). */
  sweep(olderThan: Date, options?: SignalOption): Promise<SweepReport>;
  /** Readiness: throws `unavailable("storage_unavailable")` when the store cannot be used. */
  check(options?: SignalOption): Promise<void>;
  close(): Promise<void>;
}

/** Drivers keep their temporary data under this top-level key prefix; callers may not use it. */
export const RESERVED_PREFIX = "tmp/";

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

/**
 * Keys become file paths in the fs driver, so they are restricted to plain path segments:
 * no `..`, no leading or doubled slashes, nothing under the drivers' reserved prefix.
 */
export function assertValidKey(key: string): void {
  const valid = key.length > 0 && key.length <= 512 && key.split("/").every((segment) => SEGMENT.test(segment));
  if (!valid || key.startsWith(RESERVED_PREFIX)) throw new Error(`invalid storage key "${key}"`);
}

/** Same rule for list prefixes, which may also be empty or end with a slash. */
export function assertValidPrefix(prefix: string): void {
  if (prefix === "") return;
  if (prefix.startsWith(RESERVED_PREFIX)) throw new Error(`invalid storage prefix "${prefix}"`);
  assertValidKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
}

export function assertValidRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new Error(`invalid byte range ${start}-${end}`);
  }
}
