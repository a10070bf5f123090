/**
 * What every heartbeat does before it looks at a deployment: record that the agent called
 * in (version, inventory, last seen) and learn whether its site has agent work queued or
 * running. Heartbeats arriving together are served by one SQL statement, so thousands of
 * agents cost a few statements per second instead of two per heartbeat.
 *
 * The site row is written only when the agent's version or inventory changed or its
 * last-seen time is older than LAST_SEEN_RESOLUTION_MS: `agent.lastSeenAt` (and so
 * `agent.online`) is exact to within that window, and an agent that keeps calling in
 * with nothing new costs a read, not a row version, WAL and vacuum work.
 */
import type { Db } from "../db/client.js";
import { MicroBatch } from "../auth/micro-batch.js";

/** How stale `agentLastSeenAt` may get while an agent keeps calling in with nothing new. */
export const LAST_SEEN_RESOLUTION_MS = 30_000;

export interface CheckIn {
  siteId: string;
  agentVersion: string;
  inventory: Record<string, unknown>;
}

interface CheckInRow {
  id: string;
  hasWork: boolean;
}

export class AgentCheckIns {
  private readonly batch: MicroBatch<CheckIn, boolean>;

  constructor(private readonly db: Db) {
    this.batch = new MicroBatch((checkIns) => this.recordAll(checkIns), { maxSize: 500, maxConcurrent: 2, isolateFailures: true });
  }

  /** Records the check-in; true when the site has an agent deployment queued or running. */
  record(checkIn: CheckIn): Promise<boolean> {
    return this.batch.get(checkIn);
  }

  private async recordAll(checkIns: CheckIn[]): Promise<boolean[]> {
    // One site twice in a batch (an agent retrying): the later check-in wins.
    const latest = new Map(checkIns.map((checkIn) => [checkIn.siteId, checkIn]));
    const input = JSON.stringify([...latest.values()].map((c) => ({ id: c.siteId, version: c.agentVersion, inventory: c.inventory })));
    const now = new Date();
    // Timestamps are UTC wall time in `timestamp(3)` columns, as Prisma writes them.
    const seenAt = now.toISOString();
    const staleBefore = new Date(now.getTime() - LAST_SEEN_RESOLUTION_MS).toISOString();
    // Rows to write are locked in id order first: two batches (two servers, or two in flight
    // here) that share sites then wait for each other instead of deadlocking.
    const rows = await this.db.$queryRaw<CheckInRow[]>`
      WITH input AS (
        SELECT * FROM jsonb_to_recordset(${input}::jsonb) AS t(id text, version text, inventory jsonb)
      ), due AS (
        SELECT s.id FROM "Site" s JOIN input i ON i.id = s.id
        WHERE s."agentLastSeenAt" IS NULL OR s."agentLastSeenAt" < ${staleBefore}::timestamp(3)
           OR s."agentVersion" IS DISTINCT FROM i.version OR s.inventory IS DISTINCT FROM i.inventory
        ORDER BY s.id
        FOR NO KEY UPDATE OF s
      ), written AS (
        UPDATE "Site" s SET "agentVersion" = i.version, inventory = i.inventory, "agentLastSeenAt" = ${seenAt}::timestamp(3)
        FROM due JOIN input i ON i.id = due.id
        WHERE s.id = due.id
        RETURNING s.id
      )
      SELECT i.id, EXISTS (
        SELECT 1 FROM "Deployment" d
        WHERE d."siteId" = i.id AND d.status IN ('queued', 'running') AND d.transport = 'agent'
      ) AS "hasWork"
      FROM input i`;
    const hasWork = new Map(rows.map((row) => [row.id, row.hasWork]));
    return checkIns.map((checkIn) => hasWork.get(checkIn.siteId) ?? false);
  }
}
