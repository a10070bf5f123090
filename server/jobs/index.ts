/**
 * The job system (SPEC §3): `createJobQueue` picks the transport from the configuration,
 * BullMQ when REDIS_URL is set, in process otherwise. Both keep job state in the Job table.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Config } from "../config.js";
import type { Db } from "../db/client.js";
import type { Logger } from "../logger.js";
import { BullMqJobQueue } from "./bullmq.queue.js";
import { InProcessJobQueue } from "./in-process.queue.js";
import { JobRunner } from "./jobs.runner.js";
import { JobStore } from "./jobs.store.js";
import type { JobQueue, JobQueueOptions } from "./jobs.types.js";

export type { EnqueueOptions, JobContext, JobHandler, JobQueue, JobQueueOptions, JobRegistrationOptions } from "./jobs.types.js";
export { JobLeaseLostError } from "./jobs.types.js";

type JobConfig = Pick<Config, "REDIS_URL"> & Partial<Pick<Config, "FERRY_JOB_LEASE_MS" | "FERRY_QUEUE_PREFIX">>;

export function createJobQueue(config: JobConfig, db: Db, logger: Logger, options: JobQueueOptions = {}): JobQueue {
  const processId = options.processId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const leaseMs = options.leaseMs ?? config.FERRY_JOB_LEASE_MS ?? 30_000;
  const log = logger.child({ domain: "jobs" });
  const store = new JobStore(db, processId, leaseMs);
  const runner = new JobRunner(store, log);
  const stopGraceMs = options.stopGraceMs ?? 10_000;
  if (config.REDIS_URL) {
    return new BullMqJobQueue(store, runner, log, {
      redisUrl: config.REDIS_URL,
      prefix: options.prefix ?? config.FERRY_QUEUE_PREFIX ?? "ferry",
      sweepMs: options.sweepMs ?? 5_000,
      stopGraceMs,
      leaseMs,
    });
  }
  return new InProcessJobQueue(store, runner, log, { pollMs: options.pollMs ?? 1_000, stopGraceMs });
}
