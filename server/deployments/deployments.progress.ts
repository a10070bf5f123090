/**
 * What transports report while a deployment runs: step transitions, log lines, and the
 * end. Every status change is a conditional update, so a late or repeated report (an
 * agent retrying a post, a cancel racing a success) never moves a finished deployment.
 */
import type { Deployment } from "../generated/prisma/client.js";
import { dateOr } from "../util/dates.js";
import type { DeploymentsContext } from "./deployments.service.js";
import type { Notifier } from "./deployments.notifier.js";
import { ACTIVE_STATUSES, STEP_STATUSES, type AgentEvent, type DeploymentStatus } from "./deployments.schema.js";

export type FinalStatus = "succeeded" | "failed" | "rolled_back" | "cancelled";

/** One step as an apply report lists it (reports.schema.ts). */
export interface ReportedStep {
  seq: number;
  component: string;
  name: string;
  status: string;
  error?: string;
  startedAt?: string;
  finishedAt?: string;
}

const STEP_DONE = new Set(["succeeded", "failed", "skipped", "rolled_back", "rollback_failed"]);
const ROLLBACK = new Set(["rolling_back", "rolled_back", "rollback_failed"]);

export class DeploymentProgress {
  constructor(
    private readonly ctx: DeploymentsContext,
    private readonly logWakeups: Notifier,
  ) {}

  /** queued → running; true when this call moved it (or it already ran under the same claim). */
  async markRunning(id: string, claimedBy: string): Promise<boolean> {
    const { count } = await this.ctx.db.deployment.updateMany({
      where: { id, status: "queued" },
      data: { status: "running", startedAt: new Date(), claimedBy },
    });
    if (count) this.logWakeups.notify(id);
    return count === 1;
  }

  /**
   * The agent running `id` was heard from (a claim, events, a keep-alive): its last contact
   * moves to now. `stalledAt` is what the caller read: when the watchdog had flagged the
   * deployment, the flag is cleared, once across processes, with a log line saying so.
   */
  async agentContact(id: string, stalledAt: Date | null): Promise<void> {
    const now = new Date();
    const active = { id, status: { in: ACTIVE_STATUSES } };
    if (stalledAt) {
      const { count } = await this.ctx.db.deployment.updateMany({ where: { ...active, stalledAt: { not: null } }, data: { lastContactAt: now, stalledAt: null } });
      if (count) {
        const silent = Math.round((now.getTime() - stalledAt.getTime()) / 1000);
        await this.ctx.db.deploymentLog.create({ data: { deploymentId: id, stream: "ferry", line: `the agent reported again (${silent} s after the deployment was flagged stalled)` } });
        this.logWakeups.notify(id);
        return;
      }
    }
    await this.ctx.db.deployment.updateMany({ where: active, data: { lastContactAt: now } });
  }

  /** Stores step transitions and log lines, in the order given. */
  async record(id: string, events: AgentEvent[]): Promise<void> {
    const logs: Array<{ deploymentId: string; at: Date; stream: string; line: string }> = [];
    for (const event of events) {
      const at = event.at ? new Date(event.at) : new Date();
      if (event.type === "log") {
        logs.push({ deploymentId: id, at, stream: event.stream, line: event.line });
        continue;
      }
      const done = STEP_DONE.has(event.status);
      if (ROLLBACK.has(event.status)) {
        // A step that failed stays "failed" while the steps before it are rolled back.
        const { count } = await this.ctx.db.deploymentStep.updateMany({
          where: { deploymentId: id, seq: event.seq, status: { not: "failed" } },
          data: { status: event.status, ...(event.message != null ? { message: event.message } : {}), ...(done ? { finishedAt: at } : {}) },
        });
        const exists = count > 0 || (await this.ctx.db.deploymentStep.count({ where: { deploymentId: id, seq: event.seq } })) > 0;
        if (exists) {
          logs.push({ deploymentId: id, at, stream: "step", line: stepLine(event) });
          continue;
        }
      }
      await this.ctx.db.deploymentStep.upsert({
        where: { deploymentId_seq: { deploymentId: id, seq: event.seq } },
        create: {
          deploymentId: id,
          seq: event.seq,
          component: event.component ?? null,
          name: event.name,
          status: event.status,
          message: event.message ?? null,
          startedAt: at,
          finishedAt: done ? at : null,
        },
        update: { status: event.status, ...(event.message != null ? { message: event.message } : {}), ...(done ? { finishedAt: at } : {}) },
      });
      logs.push({ deploymentId: id, at, stream: "step", line: stepLine(event) });
    }
    if (logs.length) await this.ctx.db.deploymentLog.createMany({ data: logs });
    this.logWakeups.notify(id);
  }

  /**
   * Brings the step list to how the apply report says each step ended. Step events travel
   * apart from the report and can be lost: an agent killed while the server was down keeps
   * its report and delivers it later, but not the events it had buffered. The report is
   * the agent's own record of the apply, so it settles what the events left open; a step
   * the events marked failed stays failed while the report calls it rolled back, as in record().
   */
  async settleSteps(id: string, steps: ReportedStep[], reportedAt: Date): Promise<void> {
    const rows = await this.ctx.db.deploymentStep.findMany({ where: { deploymentId: id }, select: { seq: true, status: true } });
    const current = new Map(rows.map((row) => [row.seq, row.status]));
    const open = steps.filter((step) => {
      const known = current.get(step.seq);
      if (known === step.status || !(STEP_STATUSES as readonly string[]).includes(step.status)) return false;
      return !(known === "failed" && ROLLBACK.has(step.status));
    });
    for (const step of open) {
      const finishedAt = dateOr(step.finishedAt, reportedAt);
      await this.ctx.db.deploymentStep.upsert({
        where: { deploymentId_seq: { deploymentId: id, seq: step.seq } },
        create: { deploymentId: id, seq: step.seq, component: step.component, name: step.name, status: step.status, message: step.error ?? null, startedAt: dateOr(step.startedAt, finishedAt), finishedAt },
        update: { status: step.status, finishedAt, ...(step.error != null ? { message: step.error } : {}) },
      });
    }
    if (open.length) {
      const line = `${open.length} step(s) settled from the agent's report; their progress events did not reach the server: ${open.map((step) => `${step.name} ${step.status}`).join(", ")}`;
      await this.ctx.db.deploymentLog.create({ data: { deploymentId: id, stream: "ferry", line: line.slice(0, 16_384) } });
      this.logWakeups.notify(id);
    }
  }

  /**
   * Ends a deployment once. On success the site records the release (with the deployment
   * id); any end adds a site history event and emits `deployment.finished`. Returns false
   * when the deployment had already ended.
   */
  async finish(id: string, status: FinalStatus, error: string | null, actor: string): Promise<boolean> {
    const finishedAt = new Date();
    // The end and its log line commit together, so a log follower that sees the end has seen the line.
    const ended = await this.ctx.db.$transaction(async (tx) => {
      const { count } = await tx.deployment.updateMany({ where: { id, status: { in: ACTIVE_STATUSES } }, data: { status, error, finishedAt } });
      if (count) await tx.deploymentLog.create({ data: { deploymentId: id, stream: "ferry", line: `deployment ${status}${error ? `: ${error}` : ""}` } });
      return count === 1;
    });
    if (!ended) return false;
    const row = (await this.ctx.db.deployment.findUnique({ where: { id } }))!;
    if (status === "succeeded") {
      const components = await this.componentsAfter(row);
      await this.ctx.sites.recordInstalled(row.siteId, { product: row.product, version: row.version, components, deploymentId: id }, actor, `deployment-${row.kind}`);
    } else {
      await this.ctx.db.siteEvent.create({
        data: { siteId: row.siteId, kind: `deployment-${status}`, product: row.product, version: row.version, deploymentId: id, actor, details: { kind: row.kind, error } },
      });
    }
    this.logWakeups.notify(id);
    await this.ctx.events
      .emit("deployment.finished", {
        id,
        site: row.siteId,
        release: { product: row.product, version: row.version },
        kind: row.kind,
        transport: row.transport,
        status,
        error,
        finishedAt: finishedAt.toISOString(),
      })
      .catch((err: unknown) => this.ctx.logger.error({ err, deployment: id }, "deployment.finished event not recorded"));
    return true;
  }

  /**
   * What the site runs after a successful deployment, from the bundle's manifest: the
   * components the site ran before (for an incremental or partial deployment), with each
   * shipped component's new version and removed ones dropped. Undefined means "the
   * release's component list" (recordInstalled's default).
   */
  private async componentsAfter(row: Deployment): Promise<Array<{ name: string; version: string }> | undefined> {
    const bundle = row.bundleId ? await this.ctx.db.bundle.findUnique({ where: { id: row.bundleId }, select: { manifest: true } }) : null;
    const manifest = bundle?.manifest as { components?: Array<{ name: string; version: string; action: string }> } | null;
    if (!manifest?.components) return undefined;
    const site = await this.ctx.db.site.findUnique({ where: { id: row.siteId }, select: { installedProduct: true, installedComponents: true } });
    const keepPrevious = row.kind !== "rollback" && site?.installedProduct === row.product && Array.isArray(site.installedComponents);
    const result = new Map<string, string>();
    if (keepPrevious) for (const c of site!.installedComponents as Array<{ name: string; version: string }>) result.set(c.name, c.version);
    for (const c of manifest.components) {
      if (c.action === "remove") result.delete(c.name);
      else result.set(c.name, c.version);
    }
    return [...result].map(([name, version]) => ({ name, version }));
  }
}

function stepLine(event: { component?: string | null; name: string; status: string; message?: string | null }): string {
  return `${event.component ? `${event.component}: ` : ""}${event.name} ${event.status}${event.message ? ` — ${event.message}` : ""}`;
}

export function isActive(status: string): status is DeploymentStatus {
  return (ACTIVE_STATUSES as string[]).includes(status);
}
