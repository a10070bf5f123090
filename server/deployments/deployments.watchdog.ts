/**
 * Flags agent deployments whose agent has gone silent. A running agent posts events, or an
 * empty keep-alive every quarter of FERRY_AGENT_STALL_MS, 15 s at most (it is told the
 * interval with the deploy action), so silence beyond FERRY_AGENT_STALL_MS means the agent
 * stopped, its host went down or it lost its connection.
 *
 * The watchdog flags, it does not fail: the site may be half-way through an apply that the
 * agent finishes (or rolls back) when it returns, and a guessed failure would leave the
 * site's record wrong. A flagged deployment gets a log line, a site history event and a
 * `deployment.stalled` webhook, once; whoever is notified decides whether to wait or to
 * cancel it (POST /deployments/:id/cancel frees the site). The flag clears when the agent
 * reports again (DeploymentProgress.agentContact).
 *
 * Every server process runs one; the flag is a conditional update, so of several processes
 * (and of a racing agent contact) exactly one acts.
 *
 * Silence only counts while this process could have heard it: nothing is flagged until
 * the watchdog has watched for a whole FERRY_AGENT_STALL_MS, counted again from its start
 * and from any scan that failed (the database was unreachable). After an outage of every
 * server, or of PostgreSQL, agents retrying with back-off get to report first.
 */
import type { Notifier } from "./deployments.notifier.js";
import type { DeploymentsContext } from "./deployments.service.js";

/** Deployments flagged per scan at most; the rest wait for the next one. */
const SCAN_LIMIT = 500;
/** The longest keep-alive interval agents are told to use (keepaliveMs). */
const MAX_KEEPALIVE_MS = 15_000;

export class StallWatchdog {
  private timer: NodeJS.Timeout | null = null;
  private scanning: Promise<unknown> = Promise.resolve();
  /** Since when this process has been able to hear agents; null before start(). */
  private listeningSince: number | null = null;

  constructor(
    private readonly ctx: DeploymentsContext,
    private readonly logWakeups: Notifier,
  ) {}

  private get stallMs(): number {
    return this.ctx.config.FERRY_AGENT_STALL_MS;
  }

  /**
   * The keep-alive interval agents are told to use: a quarter of the stall time, and at
   * most 15 s. An agent's watch (agent-api.service.ts `watch`) brings a cancel at once; an
   * agent without one learns of it only from the answer to a post, so the cap bounds how
   * long a cancelled deployment goes on applying (a quarter of the default 10 minutes would
   * be 2.5 min); the price is one small post per 15 s per running agent deployment.
   */
  get keepaliveMs(): number {
    return Math.min(MAX_KEEPALIVE_MS, Math.floor(this.stallMs / 4));
  }

  start(): void {
    if (this.timer) return;
    this.listeningSince = Date.now();
    // A stall is noticed within a quarter of its threshold (and at least every 30 s).
    const every = Math.min(30_000, Math.max(250, this.keepaliveMs));
    this.timer = setInterval(() => {
      this.scanning = this.scan().catch((err: unknown) => {
        this.listeningSince = Date.now();
        this.ctx.logger.warn({ err }, "stalled deployment scan failed");
      });
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.listeningSince = null;
    await this.scanning;
  }

  /** Flags what has been silent too long as of `now`; returns the ids this call flagged. */
  async scan(now = new Date()): Promise<string[]> {
    if (this.listeningSince === null || now.getTime() - this.listeningSince < this.stallMs) return [];
    const silentSince = new Date(now.getTime() - this.stallMs);
    const silent = { status: "running", transport: "agent", stalledAt: null, lastContactAt: { lt: silentSince } };
    const candidates = await this.ctx.db.deployment.findMany({ where: silent, orderBy: { lastContactAt: "asc" }, take: SCAN_LIMIT });
    const flagged: string[] = [];
    for (const row of candidates) {
      const { count } = await this.ctx.db.deployment.updateMany({ where: { id: row.id, ...silent }, data: { stalledAt: now } });
      if (!count) continue; // another process flagged it, or the agent reported meanwhile
      flagged.push(row.id);
      const lastContactAt = row.lastContactAt!;
      const silentSeconds = Math.round((now.getTime() - lastContactAt.getTime()) / 1000);
      const message =
        `no word from the site's agent for ${silentSeconds} s (last contact ${lastContactAt.toISOString()}): it may have stopped or lost its connection. ` +
        `The deployment stays running and goes on when the agent reports again; cancel it if the agent is not coming back.`;
      await this.ctx.db.deploymentLog.create({ data: { deploymentId: row.id, stream: "ferry", line: message } });
      await this.ctx.db.siteEvent.create({
        data: { siteId: row.siteId, kind: "deployment-stalled", product: row.product, version: row.version, deploymentId: row.id, actor: "ferry", details: { kind: row.kind, lastContactAt: lastContactAt.toISOString() } },
      });
      this.logWakeups.notify(row.id);
      this.ctx.logger.warn({ deployment: row.id, site: row.siteId, lastContactAt }, "agent deployment stalled");
      await this.ctx.events
        .emit("deployment.stalled", {
          id: row.id,
          site: row.siteId,
          release: { product: row.product, version: row.version },
          kind: row.kind,
          lastContactAt: lastContactAt.toISOString(),
          stalledAt: now.toISOString(),
        })
        .catch((err: unknown) => this.ctx.logger.error({ err, deployment: row.id }, "deployment.stalled event not recorded"));
    }
    return flagged;
  }
}
