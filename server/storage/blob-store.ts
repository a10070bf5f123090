/**
 * The blob store: content addressed by SHA-256 over a StorageDriver (SPEC §2 "Blob").
 * It owns addressing (`sha256/ab/<hex>`), verification on the way in and out, deduplication
 * and atomic publish; the `Blob` table is the index of what is stored. A blob exists for
 * the rest of Ferry exactly when its row exists, and a row is only written after its bytes
 * have been verified and published, so nothing partial is ever visible (SPEC §8).
 */
import { finished, pipeline as pipelineCallback, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { PrismaClient } from "../generated/prisma/client.js";
import { AppError, badRequest, conflict, notFound, rangeNotSatisfiable } from "../errors.js";
import type { Logger } from "../logger.js";
import { DigestMeter, VerifyingStream } from "./digest.js";
import type { ByteRange, ReadOptions, StorageDriver } from "./driver.js";

export interface BlobStoreOptions {
  /**
   * recover() leaves incomplete writes younger than this alone, since with shared storage
   * they may belong to another server's upload in progress. Default one hour.
   */
  recoverGraceMs?: number;
  logger?: Logger;
}

export interface PutOptions {
  /** Declared digest (hex, any case). A mismatch fails with 400 `checksum_mismatch` and keeps nothing. */
  expectedSha256?: string;
  /** More bytes than this fail with 413 `payload_too_large` and keep nothing. */
  maxBytes?: number;
  /** The size the caller announced (e.g. Content-Length), if any: small content is hashed inline. */
  expectedBytes?: number;
  signal?: AbortSignal;
}

export interface PutResult {
  sha256: string;
  size: bigint;
  /** False when the content was already stored (by an earlier or a concurrent upload). */
  created: boolean;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Where a blob's bytes live in the driver. */
export function blobKey(sha256: string): string {
  return `sha256/${sha256.slice(0, 2)}/${sha256}`;
}

export class BlobStore {
  private readonly recoverGraceMs: number;
  private readonly log: Logger | undefined;

  constructor(
    readonly driver: StorageDriver,
    private readonly prisma: PrismaClient,
    options: BlobStoreOptions = {},
  ) {
    this.recoverGraceMs = options.recoverGraceMs ?? 60 * 60 * 1000;
    this.log = options.logger;
  }

  /**
   * Stores `input` in one streaming pass. The caller keeps ownership of `input`: when put
   * fails it stops reading (unpiped, paused) rather than destroying it, so an HTTP handler
   * can still answer 400/413 before the connection closes.
   *
   * With `expectedSha256` the bytes go straight to their final key and are published only
   * if they hash to it. Without it they are staged, and published under the digest they
   * turned out to have. Either way the Blob row is inserted after publishing, with ON
   * CONFLICT DO NOTHING, so concurrent uploads of one content (from any number of
   * processes) end in one object and one row, and exactly one of them reports `created`.
   */
  async put(input: Readable, options: PutOptions = {}): Promise<PutResult> {
    const { signal, maxBytes } = options;
    const expected = options.expectedSha256 === undefined ? undefined : parseDeclaredDigest(options.expectedSha256);
    if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes >= 0)) {
      throw new Error(`maxBytes must be a non-negative integer, got ${maxBytes}`);
    }
    signal?.throwIfAborted();
    const meter = new DigestMeter({ expectedSha256: expected, maxBytes, expectedBytes: options.expectedBytes });
    const detach = feed(input, meter);
    try {
      if (expected === undefined) return await this.putStaged(meter, signal);
      if (await this.isStored(expected, signal)) {
        // Already here: the bytes are still read, to honour the declared checksum and the limit.
        await pipeline(meter, discardingSink(), { signal });
        return { ...meter.result(), created: false };
      }
      await this.driver.put(blobKey(expected), meter, { signal });
      return await this.record(meter.result());
    } catch (error) {
      throw meter.failure ?? error;
    } finally {
      detach();
      if (!meter.destroyed) meter.destroy();
    }
  }

  /** The size of a stored blob, or null. Answers from the Blob table only. */
  async has(sha256: string): Promise<{ size: bigint } | null> {
    const digest = parseDigest(sha256);
    if (!digest) return null;
    return this.prisma.blob.findUnique({ where: { sha256: digest }, select: { size: true } });
  }

  /**
   * Streams a stored blob. A full read is verified against its SHA-256 and size while it
   * streams; on a mismatch the stream fails with 500 `blob_corrupt` before its last bytes are
   * released. A ranged read (inclusive `end`, below the blob's size) can only be checked for
   * its length. Throws 404 for an unknown blob and 416 for a range outside it.
   */
  async open(sha256: string, options: ReadOptions = {}): Promise<Readable> {
    const digest = parseDigest(sha256);
    const row = digest ? await this.prisma.blob.findUnique({ where: { sha256: digest }, select: { size: true } }) : null;
    if (!digest || !row) throw notFound("blob", sha256);
    const size = Number(row.size);
    const { range } = options;
    if (range && !isRangeWithin(range, size)) throw rangeNotSatisfiable(row.size);

    const source = await this.driver.get(blobKey(digest), options).catch((error: unknown) => {
      if (error instanceof AppError && error.status === 404) {
        this.log?.error({ sha256: digest, location: this.driver.location }, "blob row exists but its object is missing");
        return Promise.reject(new AppError(500, "blob_missing", `stored blob ${digest} is missing from storage`, { sha256: digest }));
      }
      return Promise.reject(error);
    });
    const verifier = new VerifyingStream({
      sha256: range ? undefined : digest,
      size: range ? range.end - range.start + 1 : size,
      mismatch: (actual) =>
        new AppError(500, "blob_corrupt", `stored blob ${digest} failed verification`, { sha256: digest, expectedSize: size, actual }),
    });
    return pipelineCallback(source, verifier, (error) => {
      if (error instanceof AppError && error.code === "blob_corrupt") {
        this.log?.error({ sha256: digest, details: error.details }, "stored blob failed verification");
      }
    });
  }

  /**
   * Removes a blob (garbage collection). The row is deleted first inside a transaction, so a
   * blob an artifact still references fails on the foreign key before its bytes are touched;
   * the object is deleted next, and the row's removal commits only once the object is gone.
   * If deleting the object fails, the row stays and a later gc run tries again. Throws 409
   * `blob_in_use` for a referenced blob; deleting an unknown blob does nothing.
   */
  async delete(sha256: string): Promise<void> {
    const digest = parseDigest(sha256);
    if (!digest) throw badRequest("invalid_digest", `"${sha256}" is not a SHA-256 digest`);
    try {
      await this.prisma.$transaction(
        async (tx) => {
          await tx.blob.deleteMany({ where: { sha256: digest } });
          await this.driver.delete(blobKey(digest));
        },
        { maxWait: 10_000, timeout: 60_000 },
      );
    } catch (error) {
      // P2003: a foreign key still points at the row (an artifact or image layer uses it).
      if ((error as { code?: unknown }).code === "P2003") {
        throw conflict("blob_in_use", `blob ${digest} is still referenced and was not deleted`, { sha256: digest });
      }
      throw error;
    }
  }

  /**
   * Start-up cleanup of what a crash left: temporary files, staging objects and incomplete
   * multipart uploads older than the grace period. Published objects that never got their
   * row (a crash between the two) are invisible and harmless: the next upload of that
   * content rewrites the object and inserts the row.
   */
  async recover(): Promise<void> {
    const olderThan = new Date(Date.now() - this.recoverGraceMs);
    const report = await this.driver.sweep(olderThan);
    this.log?.info({ location: this.driver.location, removed: report.removed }, "storage recovered");
    if (report.unsupported.length > 0) {
      this.log?.warn(
        { location: this.driver.location, unsupported: report.unsupported },
        "storage cannot list some leftovers; configure a lifecycle rule to expire incomplete multipart uploads",
      );
    }
  }

  /** Readiness probe: throws 503 `storage_unavailable` when storage cannot be used. */
  async check(): Promise<void> {
    await this.driver.check();
  }

  async close(): Promise<void> {
    await this.driver.close();
  }

  private async putStaged(meter: DigestMeter, signal: AbortSignal | undefined): Promise<PutResult> {
    const staged = await this.driver.stage(meter, { signal });
    let published = false;
    try {
      const result = meter.result();
      if (await this.isStored(result.sha256, signal)) return { ...result, created: false };
      await this.driver.publish(staged, blobKey(result.sha256), { signal });
      published = true;
      return await this.record(result);
    } finally {
      if (!published) {
        await this.driver.discard(staged).catch((error: unknown) => {
          this.log?.warn({ err: error, location: this.driver.location }, "could not discard staged upload; recover() will");
        });
      }
    }
  }

  /**
   * Stored means a row and an object of the row's size. Checking the object too lets an
   * upload repair a blob whose object was lost, instead of deduplicating against nothing.
   */
  private async isStored(sha256: string, signal: AbortSignal | undefined): Promise<boolean> {
    const row = await this.prisma.blob.findUnique({ where: { sha256 }, select: { size: true } });
    if (!row) return false;
    const object = await this.driver.stat(blobKey(sha256), { signal });
    return object !== null && BigInt(object.size) === row.size;
  }

  private async record(result: { sha256: string; size: bigint }): Promise<PutResult> {
    // createMany + skipDuplicates is INSERT … ON CONFLICT DO NOTHING; its count says who won.
    const { count } = await this.prisma.blob.createMany({ data: [result], skipDuplicates: true });
    return { ...result, created: count === 1 };
  }
}

function parseDigest(value: string): string | null {
  const digest = value.toLowerCase();
  return SHA256_HEX.test(digest) ? digest : null;
}

function parseDeclaredDigest(value: string): string {
  const digest = parseDigest(value);
  if (!digest) throw badRequest("invalid_checksum", "a SHA-256 checksum is 64 hexadecimal characters", { expected: value });
  return digest;
}

function isRangeWithin(range: ByteRange, size: number): boolean {
  const { start, end } = range;
  return Number.isSafeInteger(start) && Number.isSafeInteger(end) && start >= 0 && start <= end && end < size;
}

/**
 * Pipes the caller's stream into the meter without taking ownership of it: an error or a
 * premature close of `input` fails the meter (and so the write); failures downstream only
 * unpipe `input`. Returns the function that detaches the two.
 */
function feed(input: Readable, meter: DigestMeter): () => void {
  // Whoever consumes the meter (a driver, the discarding sink) reports its errors; this
  // listener only keeps an error raised before that consumer attaches from being fatal.
  meter.on("error", () => {});
  const stopWatching = finished(input, { writable: false }, (error) => {
    if (error) meter.destroy(error);
  });
  input.pipe(meter);
  return () => {
    stopWatching();
    input.unpipe(meter);
    if (!input.readableEnded) input.pause();
  };
}

function discardingSink(): Writable {
  return new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}
