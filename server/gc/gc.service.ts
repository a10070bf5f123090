/**
 * Garbage collection (`ferry gc`, POST /gc): expire bundles nobody downloaded for
 * FERRY_BUNDLE_TTL_DAYS, then delete blobs nothing references (gc.references.ts).
 *
 * Two guards against racing with work in progress: a blob younger than the grace period is
 * never deleted (an upload or a bundle build writes its blob before the row that refers to
 * it), and each deletion happens in a transaction that locks the Blob row, re-checks the
 * references and only then deletes the row and the object. A concurrent insert of an
 * Artifact/ArtifactBlob row waits on that lock through its foreign key, then fails cleanly
 * instead of pointing at a deleted blob.
 */
import type { Db } from "../db/client.js";
import type { Logger } from "../logger.js";
import { blobKey, type BlobStore } from "../storage/index.js";
import { referencedAmong } from "./gc.references.js";

export interface GcOptions {
  /** Blobs younger than this are kept whatever their references. Default one hour. */
  graceMs?: number;
  bundleTtlDays: number;
  /** Report what would be collected without changing anything. */
  dryRun?: boolean;
  logger?: Logger;
}

export interface GcResult {
  bundlesExpired: number;
  blobsDeleted: number;
  bytesFreed: number;
  dryRun: boolean;
}

export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;
const PAGE = 500;
const DAY_MS = 24 * 60 * 60 * 1000;

export async function collectGarbage(deps: { db: Db; blobs: BlobStore }, options: GcOptions): Promise<GcResult> {
  const { db, blobs } = deps;
  const dryRun = options.dryRun ?? false;
  const now = Date.now();
  const bundlesExpired = await expireBundles(db, new Date(now - options.bundleTtlDays * DAY_MS), dryRun);
  const cutoff = new Date(now - (options.graceMs ?? DEFAULT_GC_GRACE_MS));
  let blobsDeleted = 0;
  let bytesFreed = 0n;
  let after: string | undefined;
  for (;;) {
    const page = await db.blob.findMany({
      where: { createdAt: { lt: cutoff }, ...(after ? { sha256: { gt: after } } : {}) },
      orderBy: { sha256: "asc" },
      take: PAGE,
      select: { sha256: true, size: true },
    });
    if (!page.length) break;
    after = page[page.length - 1]!.sha256;
    const referenced = await referencedAmong(db, page.map((blob) => blob.sha256));
    for (const blob of page) {
      if (referenced.has(blob.sha256)) continue;
      const freed = dryRun ? blob.size : await deleteIfUnreferenced(db, blobs, blob.sha256, cutoff, options.logger);
      if (freed === null) continue;
      blobsDeleted++;
      bytesFreed += freed;
    }
  }
  const result = { bundlesExpired, blobsDeleted, bytesFreed: Number(bytesFreed), dryRun };
  options.logger?.info(result, dryRun ? "gc dry run finished" : "gc finished");
  return result;
}

/**
 * Removes blobs that a refused request stored itself (an image archive and the layers read
 * from it, the file of an upload whose record failed), so that bad input leaves nothing
 * behind, not even a blob reachable at /blobs/:sha256 (SPEC §8). Each goes through the same
 * locked re-check as gc, without the age guard: a blob that something references by now
 * (a concurrent upload of the same content that committed first) is kept. One that a
 * concurrent upload has deduplicated against but not yet recorded can still go; that upload
 * then fails on the blob's foreign key and its client retries. Never throws; returns the
 * number of blobs removed.
 */
export async function discardUnreferenced(deps: { db: Db; blobs: BlobStore }, sha256s: Iterable<string>, logger?: Logger): Promise<number> {
  const noAgeGuard = new Date(Date.now() + DAY_MS);
  let removed = 0;
  for (const sha256 of new Set(sha256s)) {
    if ((await deleteIfUnreferenced(deps.db, deps.blobs, sha256, noAgeGuard, logger)) !== null) removed++;
  }
  return removed;
}

/** Ready bundles last downloaded (or, never downloaded, made ready) before `before` become expired. */
async function expireBundles(db: Db, before: Date, dryRun: boolean): Promise<number> {
  const where = {
    status: "ready",
    OR: [{ lastDownloadedAt: { lt: before } }, { lastDownloadedAt: null, readyAt: { lt: before } }],
  };
  if (dryRun) return db.bundle.count({ where });
  const { count } = await db.bundle.updateMany({ where, data: { status: "expired", expiredAt: new Date() } });
  return count;
}

/**
 * Deletes one blob unless, under its row lock, it turns out to be young or referenced.
 * The row goes first and the object next, in one transaction: if removing the object
 * fails, the row is kept and a later run tries again. (BlobStore.delete does the same
 * without the re-check; the re-check must share the lock's transaction, hence the driver.)
 * Returns the bytes freed, or null when the blob was kept.
 */
async function deleteIfUnreferenced(db: Db, blobs: BlobStore, sha256: string, cutoff: Date, logger?: Logger): Promise<bigint | null> {
  try {
    return await db.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<unknown[]>`SELECT 1 FROM "Blob" WHERE "sha256" = ${sha256} FOR UPDATE`;
        if (!locked.length) return null;
        const row = await tx.blob.findUnique({ where: { sha256 }, select: { size: true, createdAt: true } });
        if (!row || row.createdAt >= cutoff) return null;
        if ((await referencedAmong(tx, [sha256])).size) return null;
        await tx.blob.delete({ where: { sha256 } });
        await blobs.driver.delete(blobKey(sha256));
        return row.size;
      },
      { maxWait: 10_000, timeout: 60_000 },
    );
  } catch (error) {
    logger?.warn({ err: error, sha256 }, "gc could not delete a blob; kept for the next run");
    return null;
  }
}
