/**
 * The job system's public contract. One interface, two transports (in process, BullMQ);
 * the `Job` table is the source of truth for both (see jobs.store.ts).
 */
import type { Logger } from "../logger.js";

export interface JobContext {
  jobId: string;
  /** 1 for the first run, 2 for the first retry, … */
  attempt: number;
  /** Aborted when the process stops or this process lost the job's lease to another one. */
  signal: AbortSignal;
  logger: Logger;
  /**
   * Renews the lease now (it is also renewed automatically every leaseMs/3). Throws
   * `JobLeaseLostError` when another process has taken the job over; stop working then.
   */
  heartbeat(): Promise<void>;
}

export type JobHandler<P> = (payload: P, ctx: JobContext) => Promise<void>;

export interface JobRegistrationOptions<P = unknown> {
  /** Runs (first one included) before the job is marked failed. Default 3. */
  maxAttempts?: number;
  /** Jobs of this type run at once in this process. Default 1. */
  concurrency?: number;
  /** Delay before retry n is backoffMs · 2^(n-1), capped at one hour. Default 10 s. */
  backoffMs?: number;
  /**
   * Called once when the job is given up without an outcome from its handler: the process
   * running its last attempt stopped (crash, kill) before finishing it. No handler ran to
   * record a failure, so what the job drives (a deployment, say) must be ended here, or it
   * would wait forever. Errors are logged; the job stays failed.
   */
  onAbandoned?: (payload: P, reason: string) => Promise<void>;
}

export interface EnqueueOptions {
  /**
   * Idempotency key and row id: an existing job with this id that has not failed is
   * reused (and not run again); a failed one is reset to run again with the new payload.
   * Letters, digits, `.`, `_` and `-`, not only digits (BullMQ's rules for job ids).
   */
  jobId?: string;
}

export interface JobQueue {
  register<P>(type: string, handler: JobHandler<P>, options?: JobRegistrationOptions<P>): void;
  enqueue<P>(type: string, payload: P, options?: EnqueueOptions): Promise<string>;
  /** This process executes jobs of the registered types (embedded server, or `ferry worker`). */
  startWorking(): Promise<void>;
  /** Stops taking jobs, aborts running ones via their signal and gives their claims back. */
  stop(): Promise<void>;
  /** Readiness: pings Redis with the BullMQ transport; nothing to check in process. */
  check(): Promise<void>;
}

export interface JobQueueOptions {
  /** Names this process in `Job.lockedBy`. Default `<hostname>:<pid>:<random>`. */
  processId?: string;
  /** A running job whose lease is older than this is taken over by another process. Default 30 s. */
  leaseMs?: number;
  /** How often the in-process transport looks for due jobs. Default 1 s. */
  pollMs?: number;
  /** BullMQ key prefix (isolates deployments or tests sharing one Redis). Default from config. */
  prefix?: string;
  /** How often the BullMQ transport re-adds rows Redis lost. Default 5 s. */
  sweepMs?: number;
  /** How long stop() waits for aborted handlers before giving their claims back anyway. Default 10 s. */
  stopGraceMs?: number;
}

export class JobLeaseLostError extends Error {
  constructor(jobId: string) {
    super(`job ${jobId}: the lease was taken over by another process`);
    this.name = "JobLeaseLostError";
  }
}
