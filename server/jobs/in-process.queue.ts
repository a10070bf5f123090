/**
 * The in-process transport (no REDIS_URL): this process polls the Job table every pollMs
 * and wakes at once when it enqueues a job itself. Several processes may poll one
 * PostgreSQL database; the claim in JobStore keeps each job to one of them.
 */
import { afterCommit } from "../db/transaction-scope.js";
import type { Logger } from "../logger.js";
import type { JobRunner, RunOutcome } from "./jobs.runner.js";
import type { JobStore } from "./jobs.store.js";
import type { EnqueueOptions, JobHandler, JobQueue, JobRegistrationOptions } from "./jobs.types.js";
import { validateJobId } from "./job-id.js";

export class InProcessJobQueue implements JobQueue {
  private working = false;
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private readonly active = new Map<string, number>();
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private readonly runs = new Set<Promise<unknown>>();

  constructor(
    private readonly store: JobStore,
    private readonly runner: JobRunner,
    private readonly logger: Logger,
    private readonly options: { pollMs: number; stopGraceMs: number },
  ) {}

  register<P>(type: string, handler: JobHandler<P>, options?: JobRegistrationOptions<P>): void {
    this.runner.register(type, handler, options);
    this.wake();
  }

  async enqueue<P>(type: string, payload: P, options: EnqueueOptions = {}): Promise<string> {
    if (options.jobId !== undefined) validateJobId(options.jobId);
    const { id } = await this.store.create(type, payload, options.jobId);
    // Inside a request's transaction the row is not visible to a polling round until it commits.
    await afterCommit(() => this.wake());
    return id;
  }

  async startWorking(): Promise<void> {
    this.working = true;
    this.wake();
  }

  async stop(): Promise<void> {
    this.working = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.round;
    await this.runner.stop(this.options.stopGraceMs);
    await Promise.allSettled([...this.runs]);
  }

  async check(): Promise<void> {}

  /** Runs a polling round now (or right after the current one). */
  private wake(): void {
    if (!this.working) return;
    if (this.round) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.round = this.pollRounds().finally(() => {
      this.round = undefined;
      if (this.working) this.timer = setTimeout(() => this.wake(), this.options.pollMs);
    });
  }

  private async pollRounds(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pollOnce();
      } catch (error) {
        if (this.working) this.logger.error({ err: error }, "job polling round failed");
      }
    } while (this.again && this.working);
  }

  private async pollOnce(): Promise<void> {
    for (const registration of this.runner.registrations.values()) {
      const free = registration.concurrency - (this.active.get(registration.type) ?? 0);
      if (free <= 0 || !this.working) continue;
      const due = await this.store.findClaimable([registration.type], free, this.runner.inFlightIds);
      for (const job of due) this.start(job.id, job.type);
    }
  }

  private start(id: string, type: string): void {
    this.active.set(type, (this.active.get(type) ?? 0) + 1);
    const run = this.runner
      .run(id, type)
      .catch((error: unknown): RunOutcome => {
        this.logger.error({ err: error, job: id }, "job could not be run; it stays claimable");
        return { kind: "not_claimed" };
      })
      .then((outcome) => {
        this.active.set(type, (this.active.get(type) ?? 1) - 1);
        if (outcome.kind === "retry") this.wakeIn(outcome.delayMs);
        // A slot came free: look for more work now rather than at the next poll.
        if (outcome.kind !== "not_claimed") this.wake();
      });
    this.runs.add(run);
    void run.finally(() => this.runs.delete(run));
  }

  private wakeIn(delayMs: number): void {
    if (!this.working) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.wake();
    }, delayMs);
    timer.unref();
    this.retryTimers.add(timer);
  }
}
