/**
 * The `bundle.build` job. A retry (after a crash, a kill, a lost lease) builds the bundle
 * again from nothing; only the last attempt's failure marks the bundle `failed`, except
 * for a request that can no longer succeed (an approval revoked, a site deleted: a 4xx
 * domain error), which fails at once without retrying.
 */
import type { AppContext } from "../context.js";
import { AppError } from "../errors.js";
import { buildBundle, type BuilderContext } from "./bundles.builder.js";

export const BUNDLE_BUILD_JOB = "bundle.build";
const MAX_ATTEMPTS = 3;

export interface BundleBuildPayload {
  bundleId: string;
}

export function registerBundleJob(ctx: BuilderContext & Pick<AppContext, "jobs">): void {
  ctx.jobs.register<BundleBuildPayload>(
    BUNDLE_BUILD_JOB,
    async (payload, job) => {
      try {
        await buildBundle(ctx, payload.bundleId, { signal: job.signal, final: job.attempt >= MAX_ATTEMPTS });
      } catch (error) {
        if (error instanceof AppError && error.status < 500) return;
        throw error;
      }
    },
    {
      maxAttempts: MAX_ATTEMPTS,
      concurrency: 2,
      backoffMs: 5_000,
      // Every attempt's process died mid-build (the handler never got to mark it failed):
      // end the bundle rather than leave it `building` forever.
      onAbandoned: async ({ bundleId }, reason) => {
        await ctx.db.bundle.updateMany({
          where: { id: bundleId, status: { in: ["queued", "building"] } },
          data: { status: "failed", error: `the Ferry process building this bundle stopped ${MAX_ATTEMPTS} times without finishing it (${reason}); request it again` },
        });
      },
    },
  );
}

/** Job id per bundle generation: a re-requested (failed or expired) bundle gets a new job. */
export function bundleJobId(bundle: { id: string; createdAt: Date }): string {
  return `bundle-${bundle.id}-${bundle.createdAt.getTime()}`;
}
