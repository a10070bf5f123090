/**
 * Stores a bundle's bytes as they are produced: one blob, or with `maxPartSize` a series of
 * blobs (parts) that concatenated are the bundle. The whole bundle's sha256 and size are
 * computed on the way, so no part of the bundle is ever held in memory or re-read.
 */
import { once } from "node:events";
import { PassThrough, type Readable } from "node:stream";
import type { BlobStore, PutResult } from "../storage/blob-store.js";
import { createSha256 } from "../storage/sha256-offload.js";

export interface BundlePart {
  index: number;
  sha256: string;
  size: number;
}

export interface StoredBundle {
  sha256: string;
  size: number;
  parts: BundlePart[] | null;
}

export async function storeBundle(source: Readable, blobs: BlobStore, options: { maxPartSize?: number; signal: AbortSignal }): Promise<StoredBundle> {
  if (!options.maxPartSize) {
    const stored = await blobs.put(source, { signal: options.signal });
    return { sha256: stored.sha256, size: Number(stored.size), parts: null };
  }
  return storeInParts(source, blobs, options.maxPartSize, options.signal);
}

async function storeInParts(source: Readable, blobs: BlobStore, partSize: number, signal: AbortSignal): Promise<StoredBundle> {
  const whole = createSha256();
  const parts: BundlePart[] = [];
  let total = 0;
  let current: { stream: PassThrough; put: Promise<PutResult>; bytes: number } | null = null;
  const finishPart = async () => {
    if (!current) return;
    const { stream, put } = current;
    current = null;
    stream.end();
    const stored = await put;
    parts.push({ index: parts.length + 1, sha256: stored.sha256, size: Number(stored.size) });
  };
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      await whole.update(chunk);
      total += chunk.length;
      let offset = 0;
      while (offset < chunk.length) {
        if (!current) {
          const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
          const put = blobs.put(stream, { signal });
          put.catch(() => {}); // awaited in finishPart or raced below
          current = { stream, put, bytes: 0 };
        }
        const part: { stream: PassThrough; put: Promise<PutResult>; bytes: number } = current;
        const take = Math.min(partSize - part.bytes, chunk.length - offset);
        // A whole chunk goes on as itself, so its writer can hand a pooled read buffer back (read-buffers.ts).
        const piece = offset === 0 && take === chunk.length ? chunk : chunk.subarray(offset, offset + take);
        const accepted = part.stream.write(piece);
        part.bytes += take;
        offset += take;
        if (!accepted) await Promise.race([once(part.stream, "drain"), part.put.then(() => Promise.reject(new Error("part store ended early")))]);
        if (part.bytes === partSize) await finishPart();
      }
    }
    await finishPart();
  } catch (error) {
    const open = current as { stream: PassThrough } | null;
    open?.stream.destroy(error as Error);
    whole.release();
    throw error;
  }
  return { sha256: await whole.digest(), size: total, parts };
}
