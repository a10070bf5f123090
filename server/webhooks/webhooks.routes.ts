import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { actorName } from "../auth/actor.js";
import { presentDelivery, presentWebhook } from "./webhooks.presenter.js";
import { CreateWebhookBody, DeliveryListQuery, WebhookParams } from "./webhooks.schema.js";

export function webhookRoutes(routes: RouteTable, ctx: Pick<AppContext, "webhooks">): Router {
  const router = Router();
  const webhooks = ctx.webhooks;

  routes.add(router, "", {
    method: "post",
    path: "/webhooks",
    tag: "webhooks",
    summary: "Register a URL that receives signed JSON events (the secret is shown once)",
    access: ["admin"],
    body: CreateWebhookBody,
    audit: { action: "webhook.create", targetType: "webhook" },
    handler: async ({ body, actor }) => {
      const { row, secret } = await webhooks.create(body, actorName(actor));
      return {
        status: 201,
        body: { ...presentWebhook(row), secret },
        audit: { target: row.id, details: { url: row.url, events: row.events } },
      };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/webhooks",
    tag: "webhooks",
    summary: "List webhooks",
    access: ["admin"],
    handler: async () => ({ body: { items: (await webhooks.list()).map(presentWebhook) } }),
  });

  routes.add(router, "", {
    method: "delete",
    path: "/webhooks/:id",
    tag: "webhooks",
    summary: "Delete a webhook and its delivery history",
    access: ["admin"],
    params: WebhookParams,
    audit: { action: "webhook.delete", targetType: "webhook" },
    handler: async ({ params }) => {
      await webhooks.remove(params.id);
      return { status: 204, audit: { target: params.id } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/webhooks/:id/deliveries",
    tag: "webhooks",
    summary: "A webhook's deliveries, newest first",
    access: ["admin"],
    params: WebhookParams,
    query: DeliveryListQuery,
    handler: async ({ params, query }) => {
      const page = await webhooks.deliveries(params.id, query);
      return { body: { items: page.items.map(presentDelivery), nextCursor: page.nextCursor } };
    },
  });

  return router;
}
