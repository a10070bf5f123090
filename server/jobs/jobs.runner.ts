/**
 * Claim-and-run, shared by both transports: the handler registry, the lease heartbeat,
 * the outcome of an attempt (succeeded, retried with backoff, failed) and giving claims
 * back when the process stops. Retries and backoff are decided here and nowhere else.
 */
import type { Logger } from "../logger.js";
import { describeError, type JobClaim, type JobStore } from "./jobs.store.js";
import { JobLeaseLostError, type JobContext, type JobHandler, type JobRegistrationOptions } from "./jobs.types.js";

export interface Registration {
  type: string;
  handler: JobHandler<unknown>;
  maxAttempts: number;
  concurrency: number;
  backoffMs: number;
  onAbandoned?: (payload: unknown, reason: string) => Promise<void>;
}

export type RunOutcome =
  | { kind: "not_claimed"; notBefore?: Date }
  | { kind: "succeeded" }
  | { kind: "retry"; delayMs: number }
  | { kind: "failed" }
  /** Given back unfinished because this process is stopping. */
  | { kind: "released" }
  /** Another process took the job over (this one's lease expired); nothing was recorded. */
  | { kind: "lost" };

const MAX_BACKOFF_MS = 60 * 60 * 1000;

export class JobRunner {
  readonly registrations = new Map<string, Registration>();
  /** Jobs this process is claiming or running, by id. */
  private readonly inFlight = new Map<string, { controller: AbortController; done: Promise<RunOutcome> }>();
  private stopping = false;

  constructor(
    private readonly store: JobStore,
    private readonly logger: Logger,
  ) {}

  register<P>(type: string, handler: JobHandler<P>, options: JobRegistrationOptions<P> = {}): Registration {
    if (this.registrations.has(type)) throw new Error(`a handler for job type "${type}" is already registered`);
    const registration: Registration = {
      type,
      handler: handler as JobHandler<unknown>,
      maxAttempts: Math.max(1, options.maxAttempts ?? 3),
      concurrency: Math.max(1, options.concurrency ?? 1),
      backoffMs: Math.max(0, options.backoffMs ?? 10_000),
      onAbandoned: options.onAbandoned as Registration["onAbandoned"],
    };
    this.registrations.set(type, registration);
    return registration;
  }

  get types(): string[] {
    return [...this.registrations.keys()];
  }

  get inFlightIds(): Iterable<string> {
    return this.inFlight.keys();
  }

  /** Claims the job (of a type registered here) if it can be claimed and runs it to an outcome. */
  run(jobId: string, type: string): Promise<RunOutcome> {
    const existing = this.inFlight.get(jobId);
    if (existing) return existing.done.then(() => ({ kind: "not_claimed" }));
    if (this.stopping) return Promise.resolve({ kind: "not_claimed" });
    const controller = new AbortController();
    const done = this.claimAndRun(jobId, type, controller).finally(() => this.inFlight.delete(jobId));
    this.inFlight.set(jobId, { controller, done });
    return done;
  }

  /** Aborts every running handler and waits (up to graceMs) for their claims to be given back. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const running = [...this.inFlight.values()];
    for (const job of running) job.controller.abort(new Error("the process is stopping"));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.allSettled(running.map((job) => job.done)), grace]);
    clearTimeout(timer);
  }

  private async claimAndRun(jobId: string, type: string, controller: AbortController): Promise<RunOutcome> {
    const registration = this.registrations.get(type);
    if (!registration) return { kind: "not_claimed" };
    const result = await this.store.claim(jobId, type, registration.maxAttempts);
    if (!result.claimed && result.abandoned) {
      const logger = this.logger.child({ job: jobId, jobType: type });
      logger.error({ reason: result.abandoned.reason }, "job abandoned: no attempts left");
      await registration.onAbandoned?.(result.abandoned.payload, result.abandoned.reason).catch((error: unknown) => logger.error({ err: error }, "ending an abandoned job's work failed"));
      return { kind: "failed" };
    }
    if (!result.claimed) return { kind: "not_claimed", notBefore: result.notBefore };
    if (this.stopping) {
      await this.store.release(result.claimed);
      return { kind: "released" };
    }
    return this.execute(registration, result.claimed, controller);
  }

  private async execute(registration: Registration, claim: JobClaim, controller: AbortController): Promise<RunOutcome> {
    const logger = this.logger.child({ job: claim.id, jobType: claim.type, attempt: claim.attempt });
    let leaseLost = false;
    const heartbeat = async () => {
      if (leaseLost) throw new JobLeaseLostError(claim.id);
      if (await this.store.heartbeat(claim)) return;
      leaseLost = true;
      controller.abort(new JobLeaseLostError(claim.id));
      throw new JobLeaseLostError(claim.id);
    };
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => {
        if (!(error instanceof JobLeaseLostError)) logger.warn({ err: error }, "job heartbeat failed");
      });
    }, Math.max(50, Math.floor(this.store.leaseMs / 3)));
    const context: JobContext = { jobId: claim.id, attempt: claim.attempt, signal: controller.signal, logger, heartbeat };
    logger.info("job started");
    try {
      await registration.handler(claim.payload, context);
    } catch (error) {
      return this.afterFailure(registration, claim, error, leaseLost, logger);
    } finally {
      clearInterval(timer);
    }
    if (await this.store.succeed(claim)) {
      logger.info("job succeeded");
      return { kind: "succeeded" };
    }
    logger.warn("job finished after another process took it over; its outcome was not recorded");
    return { kind: "lost" };
  }

  private async afterFailure(registration: Registration, claim: JobClaim, error: unknown, leaseLost: boolean, logger: Logger): Promise<RunOutcome> {
    if (leaseLost) {
      logger.warn({ err: error }, "job stopped: another process took it over");
      return { kind: "lost" };
    }
    if (this.stopping) {
      const released = await this.store.release(claim);
      logger.info({ released }, "job interrupted by shutdown; claim given back");
      return released ? { kind: "released" } : { kind: "lost" };
    }
    if (claim.attempt >= registration.maxAttempts) {
      logger.error({ err: error }, "job failed; no attempts left");
      return (await this.store.fail(claim, error)) ? { kind: "failed" } : { kind: "lost" };
    }
    const delayMs = Math.min(MAX_BACKOFF_MS, registration.backoffMs * 2 ** (claim.attempt - 1));
    logger.warn({ error: describeError(error), retryInMs: delayMs }, "job attempt failed; will retry");
    return (await this.store.retryLater(claim, error, delayMs)) ? { kind: "retry", delayMs } : { kind: "lost" };
  }
}
