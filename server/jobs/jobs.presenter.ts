import type { Job } from "../generated/prisma/client.js";

/** Payloads stay internal (they may name internal ids); the status is what a caller follows. */
export function presentJob(job: Job) {
  return {
    id: job.id,
    type: job.type,
    status: job.status,
    attempts: job.attempts,
    lastError: job.lastError,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}
