import { Router } from "express";
import { z } from "zod";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { lastEventId, streamDeploymentLogs } from "./deployments.logs.js";
import { presentDeployment } from "./deployments.presenter.js";
import { CreateDeploymentBody, DeploymentParams, ListDeploymentsQuery } from "./deployments.schema.js";

const LogsQuery = z.strictObject({ after: z.coerce.number().int().min(0).optional() });

export function deploymentRoutes(routes: RouteTable, ctx: Pick<AppContext, "deployments" | "db">): Router {
  const router = Router();
  const { deployments } = ctx;

  routes.add(router, "", {
    method: "post",
    path: "/deployments",
    tag: "deployments",
    summary: "Install, upgrade or roll back a site to a release (kind derived from what it runs); agent and ssh sites only",
    access: ["operator", "admin"],
    body: CreateDeploymentBody,
    audit: { action: "deployment.create", targetType: "deployment" },
    responses: {
      202: "queued; the bundle is built or reused, then handed to the agent or the SSH transport",
      409: "deployment_in_progress, offline_site, already_installed, release_not_sealed, unapproved_sql",
    },
    handler: async ({ body, actor }) => {
      const deployment = await deployments.create(body, actor);
      return {
        status: 202,
        body: presentDeployment(deployment, []),
        audit: { target: deployment.id, details: { site: deployment.siteId, release: `${deployment.product}/${deployment.version}`, kind: deployment.kind, transport: deployment.transport } },
      };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/deployments",
    tag: "deployments",
    summary: "Deployments, newest first, by site and status (keyset paging with cursor)",
    access: "authenticated",
    query: ListDeploymentsQuery,
    handler: async ({ query }) => {
      const page = await deployments.list(query);
      return { body: { items: page.items.map((d) => presentDeployment(d)), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/deployments/:id",
    tag: "deployments",
    summary: "A deployment: status, steps and timestamps",
    access: "authenticated",
    params: DeploymentParams,
    handler: async ({ params }) => ({ body: presentDeployment(await deployments.get(params.id), await deployments.steps(params.id)) }),
  });

  routes.add(router, "", {
    method: "get",
    path: "/deployments/:id/logs",
    tag: "deployments",
    summary: "Server-sent events: stored log lines, then new ones until the deployment ends (`end` event); resumes after Last-Event-ID",
    access: "authenticated",
    params: DeploymentParams,
    query: LogsQuery,
    handler: async ({ params, query, req, res }) => {
      await deployments.get(params.id);
      await streamDeploymentLogs(ctx.db, deployments.logWakeups, params.id, lastEventId(req, query), req, res);
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/deployments/:id/cancel",
    tag: "deployments",
    summary: "Cancel a queued or running deployment",
    access: ["operator", "admin"],
    params: DeploymentParams,
    audit: { action: "deployment.cancel", targetType: "deployment" },
    responses: { 409: "deployment_finished" },
    handler: async ({ params, actor }) => ({ body: presentDeployment(await deployments.cancel(params.id, actor), await deployments.steps(params.id)) }),
  });

  return router;
}
