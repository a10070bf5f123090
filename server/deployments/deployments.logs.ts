/**
 * `GET /deployments/:id/logs` as server-sent events: every stored line (`event: log`, the
 * DeploymentLog id as the event id, so a reconnecting client's Last-Event-ID resumes after
 * the last line it saw), then new lines as they arrive, then `event: end` with the final
 * status. New lines wake the stream in process; a timer re-checks the database for lines
 * written by another server process.
 */
import type { Request, Response } from "express";
import type { Db } from "../db/client.js";
import type { Notifier } from "./deployments.notifier.js";
import { presentLog } from "./deployments.presenter.js";
import { isActive } from "./deployments.progress.js";

const RECHECK_MS = 1_000;
const BATCH = 500;
const KEEPALIVE_MS = 15_000;

export function lastEventId(req: Request, query: { after?: number }): bigint {
  const header = req.headers["last-event-id"];
  const raw = typeof header === "string" && /^\d{1,18}$/.test(header.trim()) ? header.trim() : query.after !== undefined ? String(query.after) : "0";
  return BigInt(raw);
}

export async function streamDeploymentLogs(db: Db, wakeups: Notifier, deploymentId: string, after: bigint, req: Request, res: Response): Promise<void> {
  res.status(200).set({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
  res.flushHeaders();
  const closed = new AbortController();
  req.on("close", () => closed.abort());
  let last = after;
  let lastWrite = Date.now();
  while (!closed.signal.aborted) {
    // Read the status before the lines: a line written just before the end is then never missed.
    const deployment = await db.deployment.findUnique({ where: { id: deploymentId }, select: { status: true, error: true } });
    const rows = await db.deploymentLog.findMany({ where: { deploymentId, id: { gt: last } }, orderBy: { id: "asc" }, take: BATCH });
    for (const row of rows) {
      res.write(`id: ${row.id}\nevent: log\ndata: ${JSON.stringify(presentLog(row))}\n\n`);
      last = row.id;
    }
    if (rows.length) lastWrite = Date.now();
    if (rows.length === BATCH) continue;
    if (!deployment || !isActive(deployment.status)) {
      res.write(`event: end\ndata: ${JSON.stringify({ status: deployment?.status ?? "unknown", error: deployment?.error ?? null })}\n\n`);
      break;
    }
    if (Date.now() - lastWrite > KEEPALIVE_MS) {
      res.write(": keep-alive\n\n");
      lastWrite = Date.now();
    }
    await wakeups.wait(deploymentId, RECHECK_MS, closed.signal);
  }
  res.end();
}
