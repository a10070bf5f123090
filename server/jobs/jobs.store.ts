/**
 * The Job table: the one place that decides who runs a job. Every state change is a
 * conditional update, so any number of processes (servers, workers, on either transport)
 * can share one database:
 *  - a claim moves a row that is `queued` and due, or `running` with a lease older than
 *    leaseMs, to `running` with lockedBy/lockedAt/attempts+1; two processes racing for one
 *    row cannot both match the condition, since PostgreSQL re-checks it on the locked row;
 *  - a claim is identified by (id, lockedBy, attempts): heartbeats and outcomes only
 *    apply while the row still carries the claim, so a process that lost its lease can
 *    no longer overwrite the new owner's work.
 * A queued row's `lockedAt` is the earliest time it may run (retry backoff); null means now.
 */
import { Prisma } from "../generated/prisma/client.js";
import type { Db } from "../db/client.js";

export interface JobClaim {
  id: string;
  type: string;
  payload: unknown;
  attempt: number;
  lockedBy: string;
}

/** A job given up because every attempt's process stopped without finishing it. */
export interface AbandonedJob {
  payload: unknown;
  reason: string;
}

export type ClaimResult = { claimed: JobClaim } | { claimed: null; notBefore?: Date; abandoned?: AbandonedJob };

const MAX_ERROR_LENGTH = 4000;

export class JobStore {
  constructor(
    private readonly db: Db,
    readonly processId: string,
    readonly leaseMs: number,
  ) {}

  /** Inserts a queued job, or returns the existing one with that id (see EnqueueOptions.jobId). */
  async create(type: string, payload: unknown, jobId?: string): Promise<{ id: string; created: boolean }> {
    const data = { type, payload: payload as Prisma.InputJsonValue, status: "queued" };
    if (!jobId) return { id: (await this.db.job.create({ data, select: { id: true } })).id, created: true };
    const { count } = await this.db.job.createMany({ data: [{ id: jobId, ...data }], skipDuplicates: true });
    if (count === 1) return { id: jobId, created: true };
    // Only a failed job is run again; the conditional update lets one of several callers do it.
    const reset = await this.db.job.updateMany({
      where: { id: jobId, type, status: "failed" },
      data: { ...data, attempts: 0, lockedBy: null, lockedAt: null, lastError: null, finishedAt: null },
    });
    const existing = await this.db.job.findUnique({ where: { id: jobId }, select: { type: true } });
    if (existing && existing.type !== type) {
      throw new Error(`job id ${jobId} already belongs to a job of type ${existing.type}, not ${type}`);
    }
    return { id: jobId, created: reset.count === 1 };
  }

  private claimableWhere(now: Date): Prisma.JobWhereInput {
    return {
      OR: [
        { status: "queued", OR: [{ lockedAt: null }, { lockedAt: { lte: now } }] },
        { status: "running", lockedAt: { lt: new Date(now.getTime() - this.leaseMs) } },
      ],
    };
  }

  /** Ids of jobs of these types that could be claimed now, oldest first. */
  async findClaimable(types: string[], limit: number, exclude: Iterable<string> = []): Promise<Array<{ id: string; type: string }>> {
    if (!types.length || limit <= 0) return [];
    return this.db.job.findMany({
      where: { type: { in: types }, id: { notIn: [...exclude] }, ...this.claimableWhere(new Date()) },
      orderBy: { createdAt: "asc" },
      take: limit,
      select: { id: true, type: true },
    });
  }

  async claim(id: string, type: string, maxAttempts: number): Promise<ClaimResult> {
    const now = new Date();
    const { count } = await this.db.job.updateMany({
      where: { id, type, attempts: { lt: maxAttempts }, ...this.claimableWhere(now) },
      data: { status: "running", lockedBy: this.processId, lockedAt: now, attempts: { increment: 1 } },
    });
    if (count === 1) {
      // lockedAt = now (ms precision, like the column) tells this claim from any other.
      const row = await this.db.job.findFirst({ where: { id, status: "running", lockedBy: this.processId, lockedAt: now } });
      if (row) return { claimed: { id, type: row.type, payload: row.payload, attempt: row.attempts, lockedBy: this.processId } };
      return { claimed: null };
    }
    const abandoned = await this.abandonExhausted(id, type, maxAttempts, now);
    if (abandoned) return { claimed: null, abandoned };
    const row = await this.db.job.findUnique({ where: { id }, select: { status: true, lockedAt: true } });
    if (row?.status === "queued" && row.lockedAt && row.lockedAt > now) return { claimed: null, notBefore: row.lockedAt };
    return { claimed: null };
  }

  /**
   * A claimable job that has used all its attempts (its last runner died, or maxAttempts
   * was lowered) is marked failed instead of run again. Returns it when this call did so
   * (one caller wins the conditional update), so its owner can end what it drives.
   */
  private async abandonExhausted(id: string, type: string, maxAttempts: number, now: Date): Promise<AbandonedJob | null> {
    const reason = `the process running attempt ${maxAttempts} stopped without finishing it (lease expired)`;
    const expired = await this.db.job.updateMany({
      where: { id, type, attempts: { gte: maxAttempts }, status: "running", lockedAt: { lt: new Date(now.getTime() - this.leaseMs) } },
      data: { status: "failed", finishedAt: now, lastError: reason },
    });
    const queued = await this.db.job.updateMany({
      where: { id, type, attempts: { gte: maxAttempts }, status: "queued" },
      data: { status: "failed", finishedAt: now },
    });
    if (!expired.count && !queued.count) return null;
    const row = await this.db.job.findUnique({ where: { id }, select: { payload: true } });
    return { payload: row?.payload ?? null, reason: expired.count ? reason : `no attempts left (at most ${maxAttempts})` };
  }

  private owned(claim: JobClaim): Prisma.JobWhereInput {
    return { id: claim.id, status: "running", lockedBy: claim.lockedBy, attempts: claim.attempt };
  }

  /** Renews the lease; false when the claim is gone (taken over or finished elsewhere). */
  async heartbeat(claim: JobClaim): Promise<boolean> {
    const { count } = await this.db.job.updateMany({ where: this.owned(claim), data: { lockedAt: new Date() } });
    return count === 1;
  }

  async succeed(claim: JobClaim): Promise<boolean> {
    const { count } = await this.db.job.updateMany({ where: this.owned(claim), data: { status: "succeeded", finishedAt: new Date() } });
    return count === 1;
  }

  async fail(claim: JobClaim, error: unknown): Promise<boolean> {
    const { count } = await this.db.job.updateMany({
      where: this.owned(claim),
      data: { status: "failed", finishedAt: new Date(), lastError: describeError(error) },
    });
    return count === 1;
  }

  async retryLater(claim: JobClaim, error: unknown, delayMs: number): Promise<boolean> {
    const { count } = await this.db.job.updateMany({
      where: this.owned(claim),
      data: { status: "queued", lockedBy: null, lockedAt: new Date(Date.now() + delayMs), lastError: describeError(error) },
    });
    return count === 1;
  }

  /** Gives a claim back without counting the attempt (the process is stopping). */
  async release(claim: JobClaim): Promise<boolean> {
    const { count } = await this.db.job.updateMany({
      where: this.owned(claim),
      data: { status: "queued", lockedBy: null, lockedAt: null, attempts: { decrement: 1 } },
    });
    return count === 1;
  }
}

export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name === "Error" ? "" : `${error.name}: `}${error.message}` : String(error);
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}
