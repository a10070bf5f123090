/** The `gc` job: what POST /gc enqueues, run by whichever process works the queue. */
import type { AppContext } from "../context.js";
import { collectGarbage } from "./gc.service.js";

export const GC_JOB = "gc";

export interface GcJobPayload {
  graceMs?: number;
  dryRun?: boolean;
}

export function registerGcJob(ctx: Pick<AppContext, "jobs" | "db" | "blobs" | "config">): void {
  ctx.jobs.register<GcJobPayload>(
    GC_JOB,
    async (payload, job) => {
      await collectGarbage(ctx, { ...payload, bundleTtlDays: ctx.config.FERRY_BUNDLE_TTL_DAYS, logger: job.logger });
    },
    // A failed collection is not retried: the next run (by hand or schedule) starts afresh.
    { maxAttempts: 1 },
  );
}
