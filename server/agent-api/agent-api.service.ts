/**
 * The agent's side of deployments. A heartbeat records the agent's version, inventory and
 * last-seen time and learns whether its site has agent work (agent-checkin.ts: one
 * statement for all heartbeats arriving together; the row is written only when something
 * changed or last seen is older than LAST_SEEN_RESOLUTION_MS). Only a site with work
 * looks up its deployment (one index lookup on Deployment(siteId, status), one bundle by
 * id); one without holds the request open. Waiting heartbeats wake from the in-process
 * notifier when a deployment is created here, and from one shared timer per process that
 * re-checks, in batches, which waiting sites have work queued (by another server process,
 * or a bundle that became ready). Handing a deployment out (the claim) commits in one
 * transaction with its audit event, opened by the route only for that moment.
 *
 * While it applies, an agent also holds a watch open on its deployment (`watch`): a long
 * poll answered the moment the deployment is cancelled, so a cancel reaches a step that
 * prints nothing at once instead of at the agent's next keep-alive.
 */
import type { AppContext } from "../context.js";
import { conflict, notFound } from "../errors.js";
import type { DeploymentsService } from "../deployments/deployments.service.js";
import { isActive } from "../deployments/deployments.progress.js";
import type { AgentEventsInput, HeartbeatInput } from "./agent-api.schema.js";
import { importReport } from "./reports.service.js";
import { ApplyReport } from "./reports.schema.js";
import { AgentCheckIns } from "./agent-checkin.js";

type AgentApiContext = Pick<AppContext, "db" | "sites" | "config" | "logger"> & { deployments: DeploymentsService };

export interface DeployAction {
  type: "deploy";
  deploymentId: string;
  kind: string;
  release: { product: string; version: string };
  bundle: { id: string; sha256: string; size: number; url: string };
  /** The site's variables, secrets included, in the agent's --vars shape. */
  vars: { vars: Record<string, string>; components: Record<string, never>; site: Record<string, string> };
  /** Post at least this often while the deployment runs, even with nothing to say (the stall watchdog). */
  keepaliveMs: number;
}

/**
 * Runs a claim in one transaction with the audit event of the action it hands out (none when
 * it hands out nothing), and returns the claim's action. The route's `commit`.
 */
export type HandOut = (claim: () => Promise<DeployAction | null>) => Promise<DeployAction | null>;

const RECHECK_BATCH = 1_000;

export class AgentApiService {
  private recheckTimer: NodeJS.Timeout | null = null;
  private readonly checkIns: AgentCheckIns;

  constructor(private readonly ctx: AgentApiContext) {
    this.checkIns = new AgentCheckIns(ctx.db);
  }

  async heartbeat(siteId: string, input: HeartbeatInput, waitMs: number, signal: AbortSignal, handOut: HandOut): Promise<DeployAction | null> {
    const deadline = Date.now() + waitMs;
    let hasWork = await this.checkIns.record({ siteId, agentVersion: input.agentVersion, inventory: input.inventory });
    for (;;) {
      const action = hasWork ? await this.nextAction(siteId, input.agentId, handOut) : null;
      if (action) return action;
      const remaining = deadline - Date.now();
      if (remaining <= 0 || signal.aborted) return null;
      this.ensureRecheck();
      await this.ctx.deployments.agentWakeups.wait(siteId, remaining, signal);
      hasWork = true;
    }
  }

  /**
   * The site's queued deployment once its bundle is ready, claimed for the calling agent
   * (marked running with `site:<site>:<agentId>`), or the one that agent already runs: a
   * heartbeat means the agent is idle, so an agent restarted mid-apply gets its deployment
   * again and finishes it (its journal recovers). Another agent process heartbeating with
   * the same site token (another agent id) is not given it: of heartbeats racing through
   * any number of servers, the conditional update lets one claim it. A heartbeat without an
   * agent id (older agents) claims as `site:<site>` and is given back what that claimed.
   * The claim runs inside `handOut`, so it is undone if its audit event cannot be written.
   */
  private async nextAction(siteId: string, agentId: string | undefined, handOut: HandOut): Promise<DeployAction | null> {
    const deployment = await this.ctx.db.deployment.findFirst({
      where: { siteId, status: { in: ["queued", "running"] }, transport: "agent" },
      orderBy: { createdAt: "asc" },
    });
    if (!deployment?.bundleId) return null;
    const bundle = await this.ctx.db.bundle.findUnique({ where: { id: deployment.bundleId } });
    if (!bundle || bundle.status === "failed" || bundle.status === "expired") {
      await this.ctx.deployments.progress.finish(deployment.id, "failed", `bundle ${deployment.bundleId} ${bundle ? `${bundle.status}: ${bundle.error ?? ""}` : "is gone"}`.trim(), "ferry");
      return null;
    }
    if (bundle.status !== "ready" || !bundle.sha256 || bundle.size === null) return null;
    const ready = { id: bundle.id, sha256: bundle.sha256, size: Number(bundle.size) };
    const claimer = agentId ? `site:${siteId}:${agentId}` : `site:${siteId}`;
    if (deployment.status === "running" && deployment.claimedBy !== claimer) return null;
    return handOut(async () => {
      if (deployment.status === "queued" && !(await this.ctx.deployments.progress.markRunning(deployment.id, claimer))) {
        // Another heartbeat claimed it a moment ago: it is ours only if that was this agent.
        const now = await this.ctx.db.deployment.findUnique({ where: { id: deployment.id }, select: { status: true, claimedBy: true } });
        if (now?.status !== "running" || now.claimedBy !== claimer) return null;
      }
      await this.ctx.deployments.progress.agentContact(deployment.id, deployment.stalledAt);
      const variables = await this.ctx.sites.siteVariables(siteId);
      return {
        type: "deploy",
        deploymentId: deployment.id,
        kind: deployment.kind,
        release: { product: deployment.product, version: deployment.version },
        bundle: { ...ready, url: `/api/v1/agent/bundles/${bundle.id}/download` },
        vars: { vars: { ...variables.plain, ...variables.secret }, components: {}, site: {} },
        keepaliveMs: this.ctx.deployments.watchdog.keepaliveMs,
      };
    });
  }

  /** Step events, log lines and status from the agent running deployment `id` (own site only). */
  async events(siteId: string, id: string, input: AgentEventsInput, actor: string): Promise<{ status: string }> {
    const deployment = await this.ctx.db.deployment.findUnique({ where: { id } });
    if (!deployment || deployment.siteId !== siteId) throw notFound("deployment", id);
    if (!isActive(deployment.status)) {
      // A retried final post is answered as it was the first time.
      if (input.status === deployment.status) return { status: deployment.status };
      throw ended(id, deployment);
    }
    const { progress } = this.ctx.deployments;
    if (deployment.status === "queued") await progress.markRunning(id, `site:${siteId}`);
    await progress.agentContact(id, deployment.stalledAt);
    await progress.record(id, input.events);
    if (input.status && input.status !== "running") {
      let status: "succeeded" | "failed" | "rolled_back" = input.status;
      let error = input.status === "succeeded" ? null : (input.error ?? `the agent reported ${input.status}`);
      if (input.report) {
        try {
          await importReport(this.ctx, siteId, ApplyReport.parse(input.report), actor, id);
        } catch (err) {
          // A success whose report does not match the bundle is not a success the site can be recorded on.
          status = "failed";
          error = `report rejected: ${(err as Error).message}`;
        }
      }
      await progress.finish(id, status, error, actor);
    }
    return { status: (await this.ctx.db.deployment.findUnique({ where: { id }, select: { status: true } }))!.status };
  }

  /**
   * Holds the agent's request for up to `waitMs` while deployment `id` (own site only) is
   * active, and answers 409 as soon as it is not: cancelled here (the in-process notifier),
   * or by another server process (a re-read every FERRY_AGENT_RECHECK_MS). Counts as the
   * agent's contact, like an empty events post; it writes nothing else.
   */
  async watch(siteId: string, id: string, waitMs: number, signal: AbortSignal): Promise<{ status: string }> {
    const read = () => this.ctx.db.deployment.findUnique({ where: { id }, select: { siteId: true, status: true, error: true, stalledAt: true } });
    let deployment = await read();
    if (!deployment || deployment.siteId !== siteId) throw notFound("deployment", id);
    if (!isActive(deployment.status)) throw ended(id, deployment);
    await this.ctx.deployments.progress.agentContact(id, deployment.stalledAt);
    const deadline = Date.now() + waitMs;
    for (let left = waitMs; left > 0 && !signal.aborted; left = deadline - Date.now()) {
      await this.ctx.deployments.logWakeups.wait(id, Math.min(left, this.ctx.config.FERRY_AGENT_RECHECK_MS), signal);
      deployment = await read();
      if (!deployment) throw notFound("deployment", id);
      if (!isActive(deployment.status)) throw ended(id, deployment);
    }
    return { status: deployment.status };
  }

  stop(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = null;
  }

  /** One timer per process while anybody waits; stops itself when nobody does. */
  private ensureRecheck(): void {
    if (this.recheckTimer) return;
    this.recheckTimer = setInterval(() => {
      const waiting = this.ctx.deployments.agentWakeups.keys();
      if (!waiting.length) return this.stop();
      void this.recheck(waiting).catch((err: unknown) => this.ctx.logger.warn({ err }, "agent work re-check failed"));
    }, this.ctx.config.FERRY_AGENT_RECHECK_MS);
    this.recheckTimer.unref();
  }

  private async recheck(siteIds: string[]): Promise<void> {
    for (let i = 0; i < siteIds.length; i += RECHECK_BATCH) {
      const rows = await this.ctx.db.deployment.findMany({
        where: { siteId: { in: siteIds.slice(i, i + RECHECK_BATCH) }, status: { in: ["queued", "running"] }, transport: "agent" },
        select: { siteId: true },
      });
      for (const row of rows) this.ctx.deployments.agentWakeups.notify(row.siteId);
    }
  }
}

/** The 409 that tells an agent to stop: its deployment was cancelled, or ended elsewhere. */
function ended(id: string, deployment: { status: string; error: string | null }) {
  const code = deployment.status === "cancelled" ? "deployment_cancelled" : "deployment_finished";
  return conflict(code, `deployment ${id} is ${deployment.status}${deployment.error ? `: ${deployment.error}` : ""}; stop and roll back`, { status: deployment.status });
}
