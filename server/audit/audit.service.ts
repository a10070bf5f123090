/**
 * The audit trail: every mutating request writes one event. Events are hash-chained
 * (each hash covers the previous hash and the event), so an edited or deleted row
 * breaks verification from that point on.
 */
import { createHash } from "node:crypto";
import type { Db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import { canonicalJson } from "../util/canonical-json.js";

export interface AuditInput {
  actor: string;
  action: string;
  targetType: string;
  target: string;
  details?: Record<string, unknown>;
  requestId?: string;
}

export interface AuditVerification {
  ok: boolean;
  count: number;
  /** The first event whose link or hash does not check out. */
  brokenAt?: string;
}

const GENESIS = "0".repeat(64);
/** Serializes writers across processes so that the chain never forks. */
const CHAIN_LOCK_KEY = 7_246_001;

function eventHash(prevHash: string, event: { at: Date; actor: string; action: string; targetType: string; target: string; details: unknown }): string {
  const canonical = canonicalJson([event.at.toISOString(), event.actor, event.action, event.targetType, event.target, event.details ?? null]);
  return createHash("sha256").update(prevHash).update("\n").update(canonical).digest("hex");
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(input: AuditInput): Promise<void> {
    await this.db.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY})`;
      const last = await tx.auditEvent.findFirst({ orderBy: { seq: "desc" }, select: { hash: true } });
      const prevHash = last?.hash ?? GENESIS;
      const at = new Date();
      const details = (input.details ?? undefined) as Prisma.InputJsonValue | undefined;
      await tx.auditEvent.create({
        data: {
          at,
          actor: input.actor,
          action: input.action,
          targetType: input.targetType,
          target: input.target,
          details,
          requestId: input.requestId,
          prevHash,
          hash: eventHash(prevHash, { ...input, at, details: input.details }),
        },
      });
    });
  }

  async list(filter: { actor?: string; target?: string; cursor?: string; limit: number }) {
    const rows = await this.db.auditEvent.findMany({
      where: {
        actor: filter.actor,
        ...(filter.target ? { target: { startsWith: filter.target } } : {}),
        ...(filter.cursor ? { seq: { lt: BigInt(filter.cursor) } } : {}),
      },
      orderBy: { seq: "desc" },
      take: filter.limit + 1,
    });
    const page = rows.slice(0, filter.limit);
    return { items: page, nextCursor: rows.length > filter.limit ? String(page[page.length - 1]!.seq) : null };
  }

  /** Walks the whole chain in pages, recomputing every hash. */
  async verify(): Promise<AuditVerification> {
    let prevHash = GENESIS;
    let count = 0;
    let after: bigint | undefined;
    for (;;) {
      const page = await this.db.auditEvent.findMany({
        where: after === undefined ? {} : { seq: { gt: after } },
        orderBy: { seq: "asc" },
        take: 1000,
      });
      for (const event of page) {
        const expected = eventHash(prevHash, event);
        if (event.prevHash !== prevHash || event.hash !== expected) return { ok: false, count, brokenAt: String(event.seq) };
        prevHash = event.hash;
        count += 1;
      }
      if (page.length < 1000) return { ok: true, count };
      after = page[page.length - 1]!.seq;
    }
  }
}
