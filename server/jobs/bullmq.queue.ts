/**
 * The BullMQ transport (REDIS_URL set): any number of server and `ferry worker` processes
 * share the work through one BullMQ queue per job type. The Job row stays the source of
 * truth: enqueue writes the row first, then adds a BullMQ job whose id is the row id; a
 * BullMQ worker runs the same claim-and-run path as the in-process transport; and a
 * periodic sweep re-adds rows that are due (queued, or running with an expired lease) but
 * missing from Redis, so a Redis that lost its data, a failed add or a killed worker only
 * delays a job.
 *
 * BullMQ's own retries are off (attempts: 1) and its jobs are removed when done: a BullMQ
 * job is only the wake-up for one claim. Whether and when a job runs again is decided by
 * its row (JobRunner), so retries survive a Redis restart, behave the same on both
 * transports, and a BullMQ redelivery (a stalled job) can never run a job twice.
 */
import { createRequire } from "node:module";
import type { Queue, Worker, JobsOptions } from "bullmq";
import type { Redis } from "ioredis";
import { afterCommit } from "../db/transaction-scope.js";
import type { Logger } from "../logger.js";
import type { JobRunner, RunOutcome } from "./jobs.runner.js";
import type { JobStore } from "./jobs.store.js";
import type { EnqueueOptions, JobHandler, JobQueue, JobRegistrationOptions } from "./jobs.types.js";
import { validateJobId } from "./job-id.js";

export interface BullOptions {
  redisUrl: string;
  prefix: string;
  sweepMs: number;
  stopGraceMs: number;
  /** The job lease (FERRY_JOB_LEASE_MS): also how soon BullMQ notices a worker that died mid-job. */
  leaseMs: number;
}

const JOB_TYPE = /^[A-Za-z0-9._-]{1,100}$/;
const ADD_TIMEOUT_MS = 5_000;

// BullMQ and ioredis (~30 MiB loaded) are only needed with REDIS_URL: load them when this
// transport is constructed, not whenever the job system is imported.
const requireModule = createRequire(import.meta.url);
const loadBullMq = () => requireModule("bullmq") as typeof import("bullmq");
const loadIoRedis = () => requireModule("ioredis") as typeof import("ioredis");

export class BullMqJobQueue implements JobQueue {
  private readonly queues = new Map<string, Queue>();
  private readonly workers = new Map<string, Worker>();
  /** BullMQ jobs to add again once the current one is removed (retry, give-back, early delivery). */
  private readonly followUps = new Map<string, number>();
  private readonly pendingAdds = new Set<Promise<void>>();
  /** BullMQ jobs handed to this process's workers and not yet recorded as completed or failed. */
  private readonly processing = new Map<string, { recorded: Promise<void>; markRecorded: () => void }>();
  private working = false;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private pinger: Redis | undefined;

  constructor(
    private readonly store: JobStore,
    private readonly runner: JobRunner,
    private readonly logger: Logger,
    private readonly options: BullOptions,
  ) {}

  register<P>(type: string, handler: JobHandler<P>, options?: JobRegistrationOptions<P>): void {
    if (!JOB_TYPE.test(type)) throw new Error(`invalid job type "${type}"`);
    this.runner.register(type, handler, options);
    if (this.working) this.startWorker(type);
  }

  async enqueue<P>(type: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    if (!JOB_TYPE.test(type)) throw new Error(`invalid job type "${type}"`);
    if (options.jobId !== undefined) validateJobId(options.jobId);
    const { id, created } = await this.store.create(type, payload, options.jobId);
    // A reused job is already (or was) dispatched; if Redis lost it, the sweep adds it again.
    // Inside a request's transaction the Job row commits first, or a worker could pick the
    // job up and not find it; should Redis fail after that commit, the sweep dispatches it.
    if (created) await afterCommit(() => this.dispatch(id, type, 0));
    return id;
  }

  async startWorking(): Promise<void> {
    if (this.working) return;
    this.working = true;
    for (const type of this.runner.types) this.startWorker(type);
    const sweep = () => {
      this.sweeping = this.sweep()
        .catch((error: unknown) => this.logger.warn({ err: error }, "job sweep failed"))
        .finally(() => {
          this.sweeping = undefined;
          if (this.working) this.sweepTimer = setTimeout(sweep, this.options.sweepMs);
        });
    };
    sweep();
  }

  async stop(): Promise<void> {
    this.working = false;
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    await this.sweeping;
    await this.runner.stop(this.options.stopGraceMs);
    // Our handlers are done (or out of grace); let BullMQ record the jobs it is finishing,
    // then close the workers with force. A graceful Worker.close() first disconnects the
    // blocking connection and waits for its 'end' event, which never comes when that
    // connection is being re-established at that moment (BullMQ's watchdog resets it when
    // the event loop runs late, as under load): close() then hangs forever
    // (taskforcesh/bullmq#4065, #4656). Nothing is lost by forcing: a job BullMQ could not
    // finish recording is only a wake-up, re-added by a sweep once its row is due.
    await withinMs(Promise.allSettled([...this.processing.values()].map((entry) => entry.recorded)), this.options.stopGraceMs);
    const closing = [...this.workers.values()].map((worker) => worker.close(true));
    if (!(await withinMs(Promise.allSettled(closing), this.options.stopGraceMs))) this.logger.warn("BullMQ workers did not close in time; stopping without them");
    this.workers.clear();
    // Claims given back above are re-added (completed events) before the queues close.
    await Promise.allSettled([...this.pendingAdds]);
    await Promise.allSettled([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
    this.pinger?.disconnect();
    this.pinger = undefined;
  }

  async check(): Promise<void> {
    // Its own connection, failing fast: the queues' connections retry forever by design.
    if (!this.pinger) {
      this.pinger = new (loadIoRedis().Redis)(this.options.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2_000 });
      // Failures surface through ping(); the connection's own error events would only repeat them.
      this.pinger.on("error", () => {});
    }
    await this.pinger.ping();
  }

  private queue(type: string): Queue {
    let queue = this.queues.get(type);
    if (!queue) {
      queue = new (loadBullMq().Queue)(type, { connection: this.connection(), prefix: this.options.prefix });
      queue.on("error", (error) => this.logger.warn({ err: error, jobType: type }, "job queue connection error"));
      this.queues.set(type, queue);
    }
    return queue;
  }

  private connection() {
    // Workers block on Redis; BullMQ requires unlimited retries per request for them.
    return { url: this.options.redisUrl, maxRetriesPerRequest: null };
  }

  /** Adds the BullMQ job for a row. Failures are logged, not thrown: the sweep adds it later. */
  private async dispatch(id: string, type: string, delayMs: number): Promise<void> {
    const options: JobsOptions = { jobId: id, delay: Math.max(0, delayMs), attempts: 1, removeOnComplete: true, removeOnFail: true };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.queue(type).add(type, {}, options),
        new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ADD_TIMEOUT_MS} ms`)), ADD_TIMEOUT_MS))),
      ]);
    } catch (error) {
      this.logger.warn({ err: error, job: id, jobType: type }, "could not add the job to Redis; the sweep will retry");
    } finally {
      clearTimeout(timer);
    }
  }

  private track(add: Promise<void>): void {
    this.pendingAdds.add(add);
    void add.finally(() => this.pendingAdds.delete(add));
  }

  private startWorker(type: string): void {
    if (this.workers.has(type)) return;
    const registration = this.runner.registrations.get(type)!;
    const worker = new (loadBullMq().Worker)(
      type,
      async (job) => {
        let markRecorded = () => {};
        const recorded = new Promise<void>((resolve) => (markRecorded = resolve));
        this.processing.set(job.id!, { recorded, markRecorded });
        const outcome = await this.runner.run(job.id!, type);
        const again = followUpDelay(outcome);
        if (again !== undefined) this.followUps.set(job.id!, again);
      },
      {
        connection: this.connection(),
        prefix: this.options.prefix,
        concurrency: registration.concurrency,
        // BullMQ's defaults (30 s lock, 30 s stall check) held a dead worker's job for up to a
        // minute whatever the lease said; follow the lease instead. A live worker renews its
        // lock every lockDuration / 2, and a redelivered job only runs if its row's lease expired.
        lockDuration: this.options.leaseMs,
        stalledInterval: this.options.leaseMs,
      },
    );
    // The BullMQ job is removed on completion, so only now can the same id be added again.
    worker.on("completed", (job) => {
      this.recorded(job.id!);
      const delay = this.followUps.get(job.id!);
      if (delay === undefined) return;
      this.followUps.delete(job.id!);
      this.track(this.dispatch(job.id!, type, delay));
    });
    worker.on("failed", (job, error) => {
      if (job) this.recorded(job.id!);
      this.logger.warn({ err: error, job: job?.id, jobType: type }, "BullMQ job failed; the sweep will re-add it if it is still due");
    });
    worker.on("error", (error) => this.logger.warn({ err: error, jobType: type }, "job worker connection error"));
    this.workers.set(type, worker);
  }

  private recorded(id: string): void {
    this.processing.get(id)?.markRecorded();
    this.processing.delete(id);
  }

  /** Re-adds rows that could run now but have no BullMQ job waiting for them. */
  private async sweep(): Promise<void> {
    const due = await this.store.findClaimable(this.runner.types, 200, this.runner.inFlightIds);
    for (const { id, type } of due) {
      if (!this.working) return;
      const queue = this.queue(type);
      const state = await queue.getJobState(id);
      if (state === "completed" || state === "failed") await (await queue.getJob(id))?.remove();
      else if (state !== "unknown") continue;
      this.logger.info({ job: id, jobType: type }, "job missing from Redis; adding it again");
      await this.dispatch(id, type, 0);
    }
  }
}

/** Waits for `promise` at most `ms`; true when it settled in time. */
async function withinMs(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

function followUpDelay(outcome: RunOutcome): number | undefined {
  if (outcome.kind === "retry") return outcome.delayMs;
  if (outcome.kind === "released") return 0;
  if (outcome.kind === "not_claimed" && outcome.notBefore) return Math.max(0, outcome.notBefore.getTime() - Date.now());
  return undefined;
}
