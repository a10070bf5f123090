/**
 * Deployments (SPEC §4): one install, upgrade or rollback of a site. Creating one derives
 * its kind from what the site runs, builds or reuses the bundle through the bundles
 * domain, claims the site (one deployment at a time) and hands the work to the site's
 * transport: the agent picks it up at its next heartbeat, an SSH site gets a job.
 */
import type { AppContext } from "../context.js";
import type { Actor } from "../auth/actor.js";
import { actorName } from "../auth/actor.js";
import { Prisma, type Deployment } from "../generated/prisma/client.js";
import { conflict, notFound } from "../errors.js";
import { compareVersions } from "../releases/versions.js";
import { decodeTimeIdCursor, encodeTimeIdCursor, olderThan, pageOf } from "../util/keyset-cursor.js";
import { Notifier } from "./deployments.notifier.js";
import { DeploymentProgress } from "./deployments.progress.js";
import { StallWatchdog } from "./deployments.watchdog.js";
import { ACTIVE_STATUSES, FINAL_STATUSES, type CreateDeploymentInput, type DeploymentStatus } from "./deployments.schema.js";

export const SSH_DEPLOYMENT_JOB = "deployment.ssh";

export type DeploymentsContext = Pick<AppContext, "db" | "sites" | "bundles" | "jobs" | "events" | "logger" | "config">;

export type DeploymentKind = "install" | "upgrade" | "rollback";

/** install when the site runs nothing (or another product), upgrade forward, rollback backward. */
export function deploymentKind(installed: { product: string | null; version: string | null }, product: string, version: string): DeploymentKind | "same" {
  if (!installed.version || installed.product !== product) return "install";
  const order = compareVersions(version, installed.version);
  return order > 0 ? "upgrade" : order < 0 ? "rollback" : "same";
}

export class DeploymentsService {
  /** Wakes heartbeats waiting for their site (key: site id). */
  readonly agentWakeups = new Notifier();
  /** Wakes log followers (key: deployment id). */
  readonly logWakeups = new Notifier();
  readonly progress: DeploymentProgress;
  /** Flags agent deployments whose agent went silent (started by startServer). */
  readonly watchdog: StallWatchdog;

  constructor(private readonly ctx: DeploymentsContext) {
    this.progress = new DeploymentProgress(ctx, this.logWakeups);
    this.watchdog = new StallWatchdog(ctx, this.logWakeups);
  }

  async create(input: CreateDeploymentInput, actor: Actor): Promise<Deployment> {
    const site = await this.ctx.sites.getSite(input.site);
    if (site.row.connectivity === "offline") {
      throw conflict("offline_site", `site ${site.row.id} is offline: build a bundle (POST /bundles), apply it with ferry-agent and import the report (POST /sites/:id/reports)`);
    }
    const kind = deploymentKind({ product: site.row.installedProduct, version: site.row.installedVersion }, input.release.product, input.release.version);
    if (kind === "same" && !input.components) {
      throw conflict("already_installed", `site ${site.row.id} already runs ${input.release.product} ${input.release.version}`);
    }
    // Checked before the bundle is requested so a busy site costs no build; the claim below decides.
    await this.assertIdle(site.row.id);
    const from = input.from ?? (kind === "upgrade" || kind === "same" ? "installed" : undefined);
    const { bundle, plan } = await this.ctx.bundles.request(
      { site: site.row.id, release: input.release, from, components: input.components, format: "tar" },
      actor,
    );
    const deployment = await this.ctx.db.$transaction(async (tx) => {
      // The site row lock serialises concurrent creations for one site, in every server process.
      await tx.$queryRaw`SELECT id FROM "Site" WHERE id = ${site.row.id} FOR UPDATE`;
      const busy = await tx.deployment.findFirst({ where: { siteId: site.row.id, status: { in: ACTIVE_STATUSES } }, select: { id: true } });
      if (busy) throw inProgress(site.row.id, busy.id);
      return tx.deployment.create({
        data: {
          siteId: site.row.id,
          product: input.release.product,
          version: input.release.version,
          fromVersion: plan.base?.version ?? null,
          kind: kind === "same" ? "upgrade" : kind,
          transport: site.row.connectivity,
          bundleId: bundle.id,
          components: input.components ?? Prisma.JsonNull,
          createdBy: actorName(actor),
        },
      });
    });
    await this.ctx.db.siteEvent.create({
      data: { siteId: site.row.id, kind: "deployment-queued", product: deployment.product, version: deployment.version, deploymentId: deployment.id, actor: actorName(actor), details: { kind: deployment.kind, transport: deployment.transport } },
    });
    if (deployment.transport === "ssh") {
      try {
        await this.ctx.jobs.enqueue(SSH_DEPLOYMENT_JOB, { deploymentId: deployment.id }, { jobId: `deployment-${deployment.id}` });
      } catch (error) {
        await this.progress.finish(deployment.id, "failed", `could not queue the ssh deployment: ${(error as Error).message}`, "ferry");
        throw error;
      }
    } else {
      this.agentWakeups.notify(site.row.id);
    }
    return deployment;
  }

  async get(id: string): Promise<Deployment> {
    const row = await this.ctx.db.deployment.findUnique({ where: { id } });
    if (!row) throw notFound("deployment", id);
    return row;
  }

  steps(id: string) {
    return this.ctx.db.deploymentStep.findMany({ where: { deploymentId: id }, orderBy: { seq: "asc" } });
  }

  /** Newest first; `cursor` is the `nextCursor` of the previous page (keyset on createdAt, id). */
  async list(filter: { site?: string; status?: DeploymentStatus; cursor?: string; limit: number }): Promise<{ items: Deployment[]; nextCursor: string | null }> {
    const after = filter.cursor ? decodeTimeIdCursor(filter.cursor) : undefined;
    const rows = await this.ctx.db.deployment.findMany({
      where: { ...(filter.site ? { siteId: filter.site } : {}), ...(filter.status ? { status: filter.status } : {}), ...(after ? olderThan(after) : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: filter.limit + 1,
    });
    return pageOf(rows, filter.limit, encodeTimeIdCursor);
  }

  /**
   * Cancels a queued or running deployment. The transport notices: an agent's next event
   * post is answered 409 deployment_cancelled (it stops and rolls back), an SSH run stops
   * the remote agent and closes the connection.
   */
  async cancel(id: string, actor: Actor): Promise<Deployment> {
    const row = await this.get(id);
    if ((FINAL_STATUSES as string[]).includes(row.status)) {
      throw conflict("deployment_finished", `deployment ${id} already ended: ${row.status}`, { status: row.status });
    }
    const ended = await this.progress.finish(id, "cancelled", `cancelled by ${actorName(actor)}`, actorName(actor));
    if (!ended) {
      const now = await this.get(id);
      throw conflict("deployment_finished", `deployment ${id} already ended: ${now.status}`, { status: now.status });
    }
    this.agentWakeups.notify(row.siteId);
    return this.get(id);
  }

  private async assertIdle(siteId: string): Promise<void> {
    const busy = await this.ctx.db.deployment.findFirst({ where: { siteId, status: { in: ACTIVE_STATUSES } }, select: { id: true } });
    if (busy) throw inProgress(siteId, busy.id);
  }
}

function inProgress(siteId: string, deploymentId: string) {
  return conflict("deployment_in_progress", `site ${siteId} is already being deployed (deployment ${deploymentId}); wait for it or cancel it`, { deployment: deploymentId });
}
