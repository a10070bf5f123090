/**
 * The two hashing streams of the blob store: one on the way in (hash, count, enforce the
 * size limit and the declared checksum) and one on the way out (prove the bytes read back
 * are the bytes stored).
 */
import { Transform, type TransformCallback } from "node:stream";
import { badRequest, payloadTooLarge, type AppError } from "../errors.js";
import { noteTransientBytes } from "../util/young-gc.js";
import { isLentReadChunk } from "./read-buffers.js";
import { createSha256, type StreamingSha256 } from "./sha256-offload.js";

/**
 * Hashes and counts bytes as they pass. It fails in `_flush`, i.e. before signalling the end
 * of its output, when the digest differs from `expectedSha256`: a consumer that only
 * publishes on a clean end (every storage driver) therefore never publishes wrong content.
 */
export class DigestMeter extends Transform {
  private readonly hash: StreamingSha256;
  private bytes = 0;
  private digest: string | undefined;
  /** The error this stream raised itself, as opposed to one that reached it from elsewhere. */
  failure: AppError | undefined;

  /** `expectedBytes`: the announced size (Content-Length), when there is one; it only picks how to hash. */
  constructor(private readonly limits: { expectedSha256?: string; maxBytes?: number; expectedBytes?: number }) {
    super();
    this.hash = createSha256(limits.expectedBytes);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    noteTransferred(chunk);
    const { maxBytes } = this.limits;
    if (maxBytes !== undefined && this.bytes > maxBytes) {
      callback(this.fail(payloadTooLarge(`content is larger than the limit of ${maxBytes} bytes`)));
      return;
    }
    passAfter(this.hash.update(chunk), chunk, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.hash.digest().then((actual) => this.settle(actual, callback), callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.hash.release();
    callback(error);
  }

  private settle(actual: string, callback: TransformCallback): void {
    const expected = this.limits.expectedSha256;
    if (expected !== undefined && actual !== expected) {
      callback(
        this.fail(badRequest("checksum_mismatch", `content SHA-256 is ${actual}, not the declared ${expected}`, { expected, actual })),
      );
      return;
    }
    this.digest = actual;
    callback();
  }

  /** Digest and size once every byte has passed and been accepted. */
  result(): { sha256: string; size: bigint } {
    if (this.digest === undefined) throw new Error("DigestMeter.result() called before the stream ended cleanly");
    return { sha256: this.digest, size: BigInt(this.bytes) };
  }

  private fail(error: AppError): AppError {
    this.failure = error;
    return error;
  }
}

export interface ExpectedContent {
  /** Verified when given; a ranged read can only check its length. */
  sha256?: string;
  size: number;
  mismatch(actual: { sha256?: string; size: number }): Error;
}

/**
 * Checks bytes read back from storage. It holds back the latest chunk until the end has been
 * verified, so a consumer (an HTTP response with a Content-Length, a bundle being written)
 * never receives the complete length of corrupt content: it gets an error instead.
 */
export class VerifyingStream extends Transform {
  private readonly hash: StreamingSha256 | undefined;
  private bytes = 0;
  private held: Buffer | undefined;

  constructor(private readonly expected: ExpectedContent) {
    super();
    this.hash = expected.sha256 === undefined ? undefined : createSha256(expected.size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    noteTransferred(chunk);
    if (this.bytes > this.expected.size) {
      callback(this.expected.mismatch({ size: this.bytes }));
      return;
    }
    const previous = this.held;
    this.held = chunk;
    passAfter(this.hash?.update(chunk), previous, callback);
  }

  override _flush(callback: TransformCallback): void {
    const digest = this.hash ? this.hash.digest() : Promise.resolve(undefined);
    digest.then((actual) => {
      if (this.bytes !== this.expected.size || actual !== this.expected.sha256) {
        callback(this.expected.mismatch({ sha256: actual, size: this.bytes }));
        return;
      }
      callback(null, this.held);
    }, callback);
  }

  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    this.hash?.release();
    callback(error);
  }
}

/** Both streams see every byte of an upload or a download: they pace the early collection of its buffers (young-gc.ts). */
function noteTransferred(chunk: Buffer): void {
  if (!isLentReadChunk(chunk)) noteTransientBytes(chunk.length);
}

/** Passes `chunk` on once the hash has taken it (at once, unless the hashing thread is behind). */
function passAfter(hashed: void | Promise<void>, chunk: Buffer | undefined, callback: TransformCallback): void {
  if (hashed) hashed.then(() => callback(null, chunk), callback);
  else callback(null, chunk);
}
