/**
 * Builds one bundle row into a stored, signed, deterministic tar (or tar.gz, or parts).
 * Runs as a job: a retry (after a crash or a kill) starts over from nothing. The row turns
 * `ready` in one conditional update that also sets sha256, size, manifest and parts, after
 * every blob is stored, so a reader never sees a ready bundle whose bytes are missing.
 */
import type { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import type { AppContext } from "../context.js";
import { AppError } from "../errors.js";
import { pinBlobs } from "../gc/gc.references.js";
import { ReadBufferPool } from "../storage/read-buffers.js";
import { bundleFolder, layoutBundle } from "./bundles.layout.js";
import { sealBundle } from "./bundles.manifest.js";
import { storeBundle } from "./bundles.output.js";
import { planBundle } from "./bundles.plan.js";
import { writeTar } from "./bundles.tar.js";

export type BuilderContext = Pick<AppContext, "db" | "catalog" | "releases" | "sites" | "blobs" | "secrets" | "events" | "logger">;

const PROGRESS_INTERVAL_MS = 500;

/**
 * `final`: this is the last attempt, so a failure marks the bundle `failed` (earlier ones
 * leave it `building` for the retry). A 4xx domain error always marks it failed.
 */
export async function buildBundle(ctx: BuilderContext, bundleId: string, options: { signal: AbortSignal; final?: boolean }): Promise<void> {
  const { signal } = options;
  const row = await ctx.db.bundle.findUnique({ where: { id: bundleId } });
  if (!row || row.status === "ready" || row.status === "expired") return;
  const log = ctx.logger.child({ domain: "bundles", bundleId });
  await ctx.db.bundle.update({ where: { id: bundleId }, data: { status: "building", bytesDone: 0, filesDone: 0, error: null } });
  try {
    const plan = await planBundle(ctx, {
      siteId: row.siteId,
      product: row.product,
      version: row.version,
      from: row.fromVersion ?? undefined,
      components: (row.components as string[] | null) ?? undefined,
    });
    const folder = bundleFolder(plan);
    const { files, manifest } = sealBundle(plan, folder, await layoutBundle(plan, ctx), ctx.secrets.signingKey);
    const bytesTotal = files.reduce((sum, f) => sum + f.size, 0);
    await ctx.db.bundle.update({ where: { id: bundleId }, data: { bytesTotal: BigInt(bytesTotal), filesTotal: files.length } });

    const progress = throttledProgress(ctx, bundleId);
    // Blobs are read into a few buffers reused for the whole build (server/storage/read-buffers.ts).
    const readBuffers = new ReadBufferPool();
    const tarStream = writeTar(folder, files, {
      mtime: new Date(plan.release.sealedAt),
      openBlob: (sha256, blobSignal) => ctx.blobs.open(sha256, { signal: blobSignal, buffers: readBuffers }),
      signal,
      onProgress: progress.report,
    });
    const output = row.format === "tar.gz" ? gzip(tarStream) : tarStream;
    const stored = await storeBundle(output, ctx.blobs, { maxPartSize: row.maxPartSize ? Number(row.maxPartSize) : undefined, signal });
    await progress.flush();

    // Pinning makes a concurrent `ferry gc` either finish first (this fails, the retry stores
    // the bytes again) or see the reference: a deduplicated bundle blob is never collected under it.
    const { count } = await ctx.db.$transaction(async (tx) => {
      await pinBlobs(tx, stored.parts ? stored.parts.map((p) => p.sha256) : [stored.sha256]);
      return tx.bundle.updateMany({
        where: { id: bundleId, status: "building" },
        data: {
          status: "ready",
          sha256: stored.sha256,
          size: BigInt(stored.size),
          manifest: manifest as object,
          parts: stored.parts ? (stored.parts as unknown as object[]) : undefined,
          bytesDone: BigInt(bytesTotal),
          filesDone: files.length,
          readyAt: new Date(),
        },
      });
    });
    if (count !== 1) return;
    log.info({ sha256: stored.sha256, size: stored.size, parts: stored.parts?.length ?? 0 }, "bundle ready");
    await ctx.events.emit("bundle.ready", {
      id: bundleId,
      site: plan.site.id,
      customer: plan.site.customer,
      product: plan.release.product,
      version: plan.release.version,
      from: plan.base?.version ?? null,
      sha256: stored.sha256,
      size: stored.size,
    });
  } catch (error) {
    // An abort (shutdown, lost lease) leaves the row `building` for the retry.
    const permanent = error instanceof AppError && error.status < 500;
    if (!signal.aborted && (permanent || options.final !== false)) {
      const message = error instanceof AppError ? `${error.code}: ${error.message}` : (error as Error).message;
      log.error({ err: error }, "bundle build failed");
      await ctx.db.bundle.updateMany({ where: { id: bundleId, status: "building" }, data: { status: "failed", error: message } });
    }
    throw error;
  }
}

/** gzip of the same tar stream; zlib writes no name and mtime 0, so the output is deterministic. */
function gzip(source: Readable): Readable {
  const zipped = createGzip({ level: 6 });
  source.on("error", (error) => zipped.destroy(error));
  return source.pipe(zipped);
}

/** Writes progress at most every PROGRESS_INTERVAL_MS, one write at a time. */
function throttledProgress(ctx: BuilderContext, bundleId: string) {
  let last = 0;
  let pending: Promise<unknown> = Promise.resolve();
  let latest = { bytes: 0, files: 0 };
  const write = () => {
    const { bytes, files } = latest;
    pending = pending
      .then(() => ctx.db.bundle.updateMany({ where: { id: bundleId, status: "building" }, data: { bytesDone: BigInt(bytes), filesDone: files } }))
      .catch(() => undefined);
  };
  return {
    report(progress: { bytes: number; files: number }) {
      latest = { ...progress };
      const now = Date.now();
      if (now - last < PROGRESS_INTERVAL_MS) return;
      last = now;
      write();
    },
    async flush() {
      await pending;
    },
  };
}
