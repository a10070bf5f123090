/**
 * `ferry verify-store`: re-hashes every stored blob. BlobStore.open verifies a full read
 * against the blob's SHA-256 and size, so reading each one to the end is the whole check.
 */
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Db } from "../db/client.js";
import { AppError } from "../errors.js";
import type { BlobStore } from "../storage/index.js";

export interface VerifyStoreResult {
  checked: number;
  bytes: number;
  /** Stored bytes that do not hash to their digest (or have the wrong size). */
  corrupt: string[];
  /** Blob rows whose object is gone from storage. */
  missing: string[];
  /** Blobs that could not be read for another reason (storage unavailable, say). */
  unreadable: Array<{ sha256: string; error: string }>;
}

const PAGE = 200;

export async function verifyStore(
  deps: { db: Db; blobs: BlobStore },
  options: { concurrency?: number; onBlob?: (sha256: string, outcome: "ok" | "corrupt" | "missing" | "unreadable") => void } = {},
): Promise<VerifyStoreResult> {
  const result: VerifyStoreResult = { checked: 0, bytes: 0, corrupt: [], missing: [], unreadable: [] };
  const concurrency = Math.max(1, options.concurrency ?? 4);
  let after: string | undefined;
  for (;;) {
    const page = await deps.db.blob.findMany({
      where: after ? { sha256: { gt: after } } : {},
      orderBy: { sha256: "asc" },
      take: PAGE,
      select: { sha256: true, size: true },
    });
    if (!page.length) break;
    after = page[page.length - 1]!.sha256;
    let next = 0;
    const lane = async () => {
      while (next < page.length) {
        const blob = page[next++]!;
        const outcome = await verifyBlob(deps.blobs, blob.sha256);
        result.checked++;
        if (outcome.kind === "ok") result.bytes += Number(blob.size);
        else if (outcome.kind === "unreadable") result.unreadable.push({ sha256: blob.sha256, error: outcome.error });
        else result[outcome.kind].push(blob.sha256);
        options.onBlob?.(blob.sha256, outcome.kind);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  }
  return result;
}

type Outcome = { kind: "ok" | "corrupt" | "missing" } | { kind: "unreadable"; error: string };

async function verifyBlob(blobs: BlobStore, sha256: string): Promise<Outcome> {
  try {
    await pipeline(await blobs.open(sha256), new Writable({ write: (_chunk, _encoding, done) => done() }));
    return { kind: "ok" };
  } catch (error) {
    if (error instanceof AppError && error.code === "blob_corrupt") return { kind: "corrupt" };
    if (error instanceof AppError && (error.code === "blob_missing" || error.status === 404)) return { kind: "missing" };
    return { kind: "unreadable", error: error instanceof Error ? error.message : String(error) };
  }
}
