import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { actorName } from "../auth/actor.js";
import { CustomerParams } from "../customers/customers.schema.js";
import { presentSite, presentSiteDetail } from "./sites.presenter.js";
import { CreateSiteBody, RecordInstalledBody, SiteListQuery, SiteParams, UpdateSiteBody } from "./sites.schema.js";

export function siteRoutes(routes: RouteTable, ctx: Pick<AppContext, "sites">): Router {
  const router = Router();
  const sites = ctx.sites;

  routes.add(router, "", {
    method: "post",
    path: "/customers/:customer/sites",
    tag: "sites",
    summary: "Create a site (agent sites: the agent token is returned once)",
    access: ["operator", "delivery", "admin"],
    params: CustomerParams,
    body: CreateSiteBody,
    audit: { action: "site.create", targetType: "site" },
    handler: async ({ params, body, actor }) => {
      const { view, agentToken } = await sites.create(params.customer, body, actorName(actor));
      return {
        status: 201,
        body: { ...presentSite(view), ...(agentToken ? { agentToken } : {}) },
        audit: { target: view.row.id, details: { customer: view.customer, name: view.row.name, connectivity: view.row.connectivity } },
      };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/sites",
    tag: "sites",
    summary: "List sites, optionally of one customer (cursor paging)",
    access: "authenticated",
    query: SiteListQuery,
    handler: async ({ query }) => {
      const page = await sites.list(query);
      return { body: { items: page.items.map((view) => presentSite(view)), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/sites/:id",
    tag: "sites",
    summary: "A site: installed release, agent status (lastSeenAt exact to within 30 s; online when seen in the last 2 minutes), inventory and history (newest first)",
    access: "authenticated",
    params: SiteParams,
    handler: async ({ params }) => {
      const view = await sites.getSite(params.id);
      return { body: presentSiteDetail(view, await sites.history(params.id)) };
    },
  });

  routes.add(router, "", {
    method: "patch",
    path: "/sites/:id",
    tag: "sites",
    summary: "Edit a site's environment and variables (a value sets a key, null deletes it; secret values are write-only)",
    access: ["operator", "delivery", "admin"],
    params: SiteParams,
    body: UpdateSiteBody,
    audit: { action: "site.update", targetType: "site" },
    handler: async ({ params, body, actor }) => {
      const view = await sites.update(params.id, body, actorName(actor));
      return {
        body: presentSite(view),
        audit: {
          details: {
            ...(body.environment ? { environment: body.environment } : {}),
            variables: Object.keys(body.variables ?? {}),
            secretVariables: Object.keys(body.secretVariables ?? {}),
          },
        },
      };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/sites/:id/installed",
    tag: "sites",
    summary: "Record the release a site already runs",
    access: ["operator", "delivery", "admin"],
    params: SiteParams,
    body: RecordInstalledBody,
    audit: { action: "site.record_installed", targetType: "site" },
    handler: async ({ params, body, actor }) => {
      const view = await sites.recordInstalled(params.id, body, actorName(actor));
      return { body: presentSite(view), audit: { details: { product: body.product, version: body.version } } };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/sites/:id/agent-token",
    tag: "sites",
    summary: "Issue a new agent token for an agent site (shown once; the old one stops working)",
    access: ["operator", "admin"],
    params: SiteParams,
    audit: { action: "site.rotate_agent_token", targetType: "site" },
    handler: async ({ params, actor }) => {
      const agentToken = await sites.rotateAgentToken(params.id, actorName(actor));
      return { status: 201, body: { id: params.id, agentToken } };
    },
  });

  return router;
}
