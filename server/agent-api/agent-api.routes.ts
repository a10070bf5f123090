/**
 * The agent API (site tokens only, SPEC §4) and the offline report import. Every agent
 * route scopes to the token's own site: another site's deployment or bundle is a 404.
 */
import { Router, type Request } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import type { Actor } from "../auth/actor.js";
import { actorName } from "../auth/actor.js";
import { badRequest, forbidden, notFound, payloadTooLarge, validationFailed } from "../errors.js";
import { sendBundle } from "../bundles/bundles.download.js";
import { SiteParams } from "../sites/sites.schema.js";
import type { AgentApiService, HandOut } from "./agent-api.service.js";
import { AgentBundleParams, AgentDeploymentParams, AgentDownloadQuery, AgentEventsBody, AgentWatchQuery, HeartbeatBody, HeartbeatQuery } from "./agent-api.schema.js";
import { importReport } from "./reports.service.js";
import { ApplyReport } from "./reports.schema.js";

const MAX_REPORT_BYTES = 64 * 1024 * 1024;
const NEVER_ABORTED = new AbortController().signal;

function siteOf(actor: Actor): string {
  if (actor.kind !== "site") throw forbidden("forbidden", "this route is for site agents");
  return actor.siteId;
}

export function agentApiRoutes(routes: RouteTable, ctx: Pick<AppContext, "config" | "db" | "sites" | "bundles" | "blobs" | "deployments"> & { agentApi: AgentApiService }): Router {
  const router = Router();
  const { agentApi } = ctx;

  routes.add(router, "", {
    method: "post",
    path: "/agent/heartbeat",
    tag: "agent",
    summary: "Agent check-in (long poll): records version and inventory; answers a deploy action, or 204 when there is none before the hold ends",
    access: "site",
    body: HeartbeatBody,
    query: HeartbeatQuery,
    audit: {
      action: "agent.heartbeat",
      targetType: "site",
      skippable: "a heartbeat with no work is telemetry (version, inventory, last seen); only one that hands out a deployment is audited",
    },
    outsideTransaction:
      "a long poll: it waits up to FERRY_AGENT_LONG_POLL_MS for work, and a transaction held that long would hold a connection (on PGlite, the whole database); the hand-out alone commits with its audit event",
    responses: { 200: "{action:{type:'deploy', deploymentId, bundle:{id, sha256, size, url}, vars, keepaliveMs}}", 204: "nothing to do" },
    handler: async ({ body, query, actor, req, commit }) => {
      const siteId = siteOf(actor);
      const hold = ctx.config.FERRY_AGENT_LONG_POLL_MS;
      const waitMs = query.wait === undefined ? hold : Math.min(hold, query.wait * 1000);
      // Only a heartbeat that may wait needs to learn that its client went away.
      let signal = NEVER_ABORTED;
      if (waitMs > 0) {
        const closed = new AbortController();
        req.on("close", () => closed.abort());
        signal = closed.signal;
      }
      const handOut: HandOut = async (claim) => {
        const claimed = await commit(async () => {
          const action = await claim();
          return { action, audit: action ? { target: siteId, details: { deployment: action.deploymentId } } : (false as const) };
        });
        return claimed.action;
      };
      const action = await agentApi.heartbeat(siteId, body, waitMs, signal, handOut);
      // The event of a hand-out was written with its claim, in handOut.
      return { status: action ? 200 : 204, body: action ? { action } : undefined, audit: false };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/agent/deployments/:id/events",
    tag: "agent",
    summary: "Step events, log lines and status of the agent's deployment (an empty post is a keep-alive); 409 deployment_cancelled tells the agent to stop",
    access: "site",
    params: AgentDeploymentParams,
    body: AgentEventsBody,
    audit: {
      action: "agent.deployment_events",
      targetType: "deployment",
      skippable: "progress (steps and log lines) of an audited deployment; the post that sets its final status is audited",
    },
    responses: { 404: "not this site's deployment", 409: "deployment_cancelled, deployment_finished" },
    handler: async ({ params, body, actor }) => ({
      body: await agentApi.events(siteOf(actor), params.id, body, actorName(actor)),
      audit: body.status ? { details: { status: body.status } } : false,
    }),
  });

  routes.add(router, "", {
    method: "post",
    path: "/agent/deployments/:id/watch",
    tag: "agent",
    summary: "Held while the agent's deployment runs (long poll, up to ?wait= seconds): 409 deployment_cancelled the moment it is cancelled, 200 when the hold ends; counts as a keep-alive",
    access: "site",
    params: AgentDeploymentParams,
    query: AgentWatchQuery,
    audit: {
      action: "agent.deployment_watch",
      targetType: "deployment",
      skippable: "a held keep-alive: like an empty events post it changes only the deployment's last contact",
    },
    outsideTransaction:
      "a long poll: it waits up to FERRY_AGENT_LONG_POLL_MS for a cancel, and a transaction held that long would hold a connection (on PGlite, the whole database)",
    responses: { 200: "{status} still active when the hold ended", 404: "not this site's deployment", 409: "deployment_cancelled, deployment_finished" },
    handler: async ({ params, query, actor, req }) => {
      const siteId = siteOf(actor);
      const hold = ctx.config.FERRY_AGENT_LONG_POLL_MS;
      const waitMs = query.wait === undefined ? hold : Math.min(hold, query.wait * 1000);
      const closed = new AbortController();
      req.on("close", () => closed.abort());
      return { body: await agentApi.watch(siteId, params.id, waitMs, closed.signal), audit: false };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/agent/bundles/:id/download",
    tag: "agent",
    summary: "Download one of the site's own bundles (Range, ETag, X-Checksum-Sha256)",
    access: "site",
    params: AgentBundleParams,
    query: AgentDownloadQuery,
    responses: { 404: "not this site's bundle", 409: "bundle_not_ready" },
    handler: async ({ params, query, actor, req, res }) => {
      const owner = await ctx.db.bundle.findUnique({ where: { id: params.id }, select: { siteId: true } });
      if (!owner || owner.siteId !== siteOf(actor)) throw notFound("bundle", params.id);
      const bundle = await ctx.bundles.forDownload(params.id);
      await sendBundle(ctx.blobs, req, res, bundle, query.part);
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/sites/:id/reports",
    tag: "sites",
    summary: "Import a report written by `ferry-agent apply --report` (JSON; application/octet-stream for reports over 1 MB)",
    access: ["operator", "admin"],
    params: SiteParams,
    body: "stream",
    audit: { action: "site.import_report", targetType: "site" },
    responses: { 409: "report_site_mismatch, unknown_bundle, report_mismatch" },
    handler: async ({ params, actor, req, commit }) => {
      const parsed = ApplyReport.safeParse(await readReportBody(req));
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => ({ path: ["body", ...i.path.map(String)].join("."), message: i.message }));
        throw validationFailed(`not a ferry-agent report: ${issues.slice(0, 5).map((i) => `${i.path} ${i.message}`).join("; ")}`, { issues });
      }
      return commit(async () => {
        const result = await importReport(ctx, params.id, parsed.data, actorName(actor));
        return { status: result.duplicate ? 200 : 201, body: result, audit: { details: { applyId: parsed.data.applyId, result: result.result, bundle: result.bundle } } };
      });
    },
  });

  return router;
}

/** A JSON body already parsed by the app, or the raw body (any other content type) read up to a limit. */
async function readReportBody(req: Request): Promise<unknown> {
  if (req.body && typeof req.body === "object" && !Buffer.isBuffer(req.body) && Object.keys(req.body as object).length) return req.body;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REPORT_BYTES) throw payloadTooLarge(`a report may be at most ${MAX_REPORT_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (!size) throw badRequest("report_missing", "send the report file as the request body");
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw badRequest("invalid_report", "the report is not valid JSON");
  }
}
