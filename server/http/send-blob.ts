/**
 * Serves a stored blob over HTTP with the headers download tools rely on: ETag (the
 * sha256), X-Checksum-Sha256, Accept-Ranges, single byte ranges (206/416), If-None-Match
 * (304) and If-Range. Used for artifacts, blobs by digest and bundles.
 */
import { finished, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Request, Response } from "express";
import { rangeNotSatisfiable } from "../errors.js";
import type { BlobStore } from "../storage/blob-store.js";
import { READ_BUFFER_BYTES, ReadBufferPool, returnReadChunk } from "../storage/read-buffers.js";

export interface BlobDescription {
  sha256: string;
  size: bigint;
  filename?: string;
  contentType?: string | null;
}

type ParsedRange = { start: number; end: number } | "unsatisfiable" | null;

/** Parses a single `bytes=` range. Multiple ranges are served as the whole entity (RFC 9110 allows ignoring Range). */
export function parseRange(header: string | undefined, size: number): ParsedRange {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return null;
  const [, from, to] = match;
  if (from === "" && to === "") return null;
  if (from === "") {
    const suffix = Number(to);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  const end = to === "" ? size - 1 : Math.min(Number(to), size - 1);
  if (start >= size || end < start) return "unsatisfiable";
  return { start, end };
}

function etagMatches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(",").some((candidate) => {
    const value = candidate.trim().replace(/^W\//, "");
    return value === "*" || value === etag;
  });
}

export async function sendBlob(blobs: BlobStore, req: Request, res: Response, blob: BlobDescription): Promise<void> {
  const size = Number(blob.size);
  const etag = `"${blob.sha256}"`;
  res.set({
    ETag: etag,
    "X-Checksum-Sha256": blob.sha256,
    "Accept-Ranges": "bytes",
    "Cache-Control": "private, max-age=0, must-revalidate",
    "Content-Type": blob.contentType ?? "application/octet-stream",
  });
  if (blob.filename) res.attachment(blob.filename);
  if (etagMatches(req.headers["if-none-match"], etag)) {
    res.status(304).end();
    return;
  }
  const ifRange = req.headers["if-range"];
  const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, size);
  if (range === "unsatisfiable") throw rangeNotSatisfiable(size);
  if (range) {
    res.status(206).set({ "Content-Range": `bytes ${range.start}-${range.end}/${size}`, "Content-Length": String(range.end - range.start + 1) });
  } else {
    res.status(200).set("Content-Length", String(size));
  }
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const controller = new AbortController();
  res.on("close", () => controller.abort());
  const length = range ? range.end - range.start + 1 : size;
  const stream = await blobs.open(blob.sha256, { range: range ?? undefined, signal: controller.signal, buffers: downloadBuffers(length) });
  try {
    await pipeline(stream, responseWriter(res));
  } catch (error) {
    // The client went away: nothing to report. Anything else (a checksum failure while
    // streaming) cuts the response so the client never mistakes it for a complete file.
    if (controller.signal.aborted) return;
    res.destroy();
    throw error;
  }
}

/** Below this, a download takes one or two reads: reused buffers would save nothing. */
const POOLED_DOWNLOAD_MIN_BYTES = 2 * READ_BUFFER_BYTES;

/**
 * Read buffers for one download of `length` bytes, or none for a small one. A large download
 * reads into the same few buffers from start to end (read-buffers.ts), and responseWriter
 * hands each back once the socket has taken it. With a fresh 1 MiB buffer per read instead,
 * a 1 GiB download made 1 GiB of garbage that V8 counts as external memory: young
 * collections every 8 MiB, full collections over the server's whole heap, and page faults
 * on memory malloc had just given back (docs/BENCHMARKS.md).
 */
export function downloadBuffers(length: number): ReadBufferPool | undefined {
  return length >= POOLED_DOWNLOAD_MIN_BYTES ? new ReadBufferPool() : undefined;
}

/**
 * The writing end of a download. Each chunk goes to the response as it is; a chunk read into
 * a pooled buffer goes back to its pool from the response's write callback, when the socket
 * has taken its bytes. (Piping into the response gives no such moment.) It fails, as piping
 * into the response would, when the connection closes before the response is complete.
 */
export function responseWriter(res: Response): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (res.write(chunk, () => returnReadChunk(chunk))) done();
      else whenDrained(res, done);
    },
    final(done) {
      res.end();
      finished(res, (error) => done(error));
    },
  });
}

function whenDrained(res: Response, done: (error?: Error) => void): void {
  const settle = (error?: Error) => {
    res.off("drain", onDrain);
    res.off("close", onClose);
    done(error);
  };
  const onDrain = () => settle();
  const onClose = () => settle(new Error("the connection closed before the download was complete"));
  res.on("drain", onDrain);
  res.on("close", onClose);
}
