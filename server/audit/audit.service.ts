/**
 * The audit trail: every mutating request writes one event. Events are hash-chained
 * (each hash covers the previous hash and the event), so an edited or deleted row
 * breaks verification from that point on.
 */
import { createHash } from "node:crypto";
import type { Db } from "../db/client.js";
import { inTransactionScope } from "../db/transaction-scope.js";
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
export const CHAIN_LOCK_KEY = 7_246_001;

type ChainedFields = { at: Date; actor: string; action: string; targetType: string; target: string; details: unknown };

/** What an event's hash covers besides the previous hash. */
function canonicalEvent(event: ChainedFields): string {
  return canonicalJson([event.at.toISOString(), event.actor, event.action, event.targetType, event.target, event.details ?? null]);
}

/** sha256(prevHash "\n" canonical event); `record` has the database compute the same. */
export function eventHash(prevHash: string, event: ChainedFields): string {
  return createHash("sha256").update(prevHash).update("\n").update(canonicalEvent(event)).digest("hex");
}

export class AuditLog {
  constructor(private readonly db: Db) {}

  /**
   * Appends an event. Inside a request's transaction it joins it, so the event commits with
   * the change. The chain lock serializes writers across processes so that the chain never
   * forks, and is held until the commit: every round trip after it is time all other writers
   * wait, so the read of the last hash and the insert are one statement, which hashes in SQL
   * exactly as `eventHash` does. That statement starts after the lock is granted, so its
   * snapshot (READ COMMITTED) sees the event committed just before.
   */
  async record(input: AuditInput): Promise<void> {
    const at = new Date();
    const details = input.details ?? null;
    const append = async (db: Prisma.TransactionClient) => {
      await db.$executeRaw`SELECT pg_advisory_xact_lock(${CHAIN_LOCK_KEY})`;
      await db.$executeRaw`
        INSERT INTO "AuditEvent" (at, actor, action, "targetType", target, details, "requestId", "prevHash", hash)
        SELECT ${at.toISOString()}::timestamptz AT TIME ZONE 'UTC', ${input.actor}, ${input.action}, ${input.targetType}, ${input.target},
               ${details === null ? null : JSON.stringify(details)}::jsonb, ${input.requestId ?? null}, last.hash,
               encode(sha256(convert_to(last.hash || ${"\n"} || ${canonicalEvent({ ...input, at, details })}, 'UTF8')), 'hex')
        FROM (SELECT coalesce((SELECT hash FROM "AuditEvent" ORDER BY seq DESC LIMIT 1), ${GENESIS}) AS hash) AS last`;
    };
    // In a request's transaction, no savepoint: its RELEASE would be one more round trip under
    // the lock, and an event that fails fails the request anyway. Alone, its own transaction.
    if (inTransactionScope()) await append(this.db);
    else await this.db.$transaction(append);
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
