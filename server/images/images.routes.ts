import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { presentImage, presentImageSummary } from "./images.presenter.js";
import { ImageListQuery, ImageParams } from "./images.schema.js";

export function imageRoutes(routes: RouteTable, ctx: AppContext): Router {
  const router = Router();

  routes.add(router, "", {
    method: "get",
    path: "/images",
    tag: "images",
    summary: "List container images parsed from image artifacts (keyset paging with cursor)",
    access: "authenticated",
    query: ImageListQuery,
    handler: async ({ query }) => {
      const page = await ctx.images.list({ name: query.name }, query.cursor, query.limit);
      return { body: { items: page.items.map(presentImageSummary), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/images/:artifactId",
    tag: "images",
    summary: "One container image: name, tag, manifest and config digests, layers with sizes",
    access: "authenticated",
    params: ImageParams,
    handler: async ({ params }) => ({ body: presentImage(await ctx.images.get(params.artifactId)) }),
  });

  return router;
}
