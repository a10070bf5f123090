import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { sendBundle } from "./bundles.download.js";
import { planBundle } from "./bundles.plan.js";
import { presentBundle, presentPlan } from "./bundles.presenter.js";
import { BundleParams, CreateBundleBody, DownloadQuery, ListBundlesQuery, PlanParams, PlanQuery } from "./bundles.schema.js";

const FINAL = new Set(["ready", "failed", "expired"]);
const EVENT_POLL_MS = 500;

export function bundleRoutes(routes: RouteTable, ctx: AppContext): Router {
  const router = Router();
  const { bundles } = ctx;

  routes.add(router, "", {
    method: "post",
    path: "/bundles",
    tag: "bundles",
    summary: "Request an offline bundle for a site and release (full, or incremental with `from`); built as a job",
    access: ["delivery", "admin"],
    body: CreateBundleBody,
    audit: { action: "bundle.request", targetType: "bundle" },
    responses: {
      202: "queued (or an identical request's bundle still building)",
      200: "an identical request's bundle is ready and reused",
      409: "release_not_sealed, unapproved_sql (details.scripts), nothing_installed, product_mismatch",
    },
    handler: async ({ body, actor }) => {
      const { bundle, plan, reused } = await bundles.request(body, actor);
      return {
        status: bundle.status === "ready" ? 200 : 202,
        body: { ...presentBundle(bundle), reused, mode: plan.mode, addedDependencies: plan.addedDependencies },
        audit: { target: bundle.id, details: { site: plan.site.id, release: `${plan.release.product}/${plan.release.version}`, from: plan.base?.version ?? null, reused } },
      };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/bundles",
    tag: "bundles",
    summary: "Bundles, newest first, optionally of one site (keyset paging with cursor)",
    access: "authenticated",
    query: ListBundlesQuery,
    handler: async ({ query }) => {
      const page = await bundles.list(query);
      return { body: { items: page.items.map((b) => presentBundle(b)), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/bundles/:id",
    tag: "bundles",
    summary: "A bundle: status, progress in bytes and files, sha256, size, parts and (once ready) its manifest",
    access: "authenticated",
    params: BundleParams,
    handler: async ({ params }) => ({ body: presentBundle(await bundles.get(params.id), { manifest: true }) }),
  });

  routes.add(router, "", {
    method: "get",
    path: "/bundles/:id/events",
    tag: "bundles",
    summary: "Server-sent events (`progress`, then `ready` or `failed`) until the build ends",
    access: "authenticated",
    params: BundleParams,
    handler: async ({ params, req, res }) => {
      let bundle = await bundles.get(params.id);
      res.status(200).set({ "Content-Type": "text/event-stream", "Cache-Control": "no-cache", Connection: "keep-alive", "X-Accel-Buffering": "no" });
      res.flushHeaders();
      let closed = false;
      req.on("close", () => (closed = true));
      let last = "";
      for (;;) {
        const view = presentBundle(bundle);
        const text = JSON.stringify(view);
        const event = FINAL.has(bundle.status) ? bundle.status : "progress";
        if (text !== last) res.write(`event: ${event}\ndata: ${text}\n\n`);
        last = text;
        if (FINAL.has(bundle.status) || closed) break;
        await new Promise((resolve) => setTimeout(resolve, EVENT_POLL_MS));
        if (closed) break;
        bundle = await bundles.get(params.id);
      }
      res.end();
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/bundles/:id/download",
    tag: "bundles",
    summary: "Download a ready bundle (Range, ETag, X-Checksum-Sha256); `?part=N` for one part of a split bundle",
    access: "authenticated",
    params: BundleParams,
    query: DownloadQuery,
    responses: { 409: "bundle_not_ready" },
    handler: async ({ params, query, req, res }) => {
      const bundle = await bundles.forDownload(params.id);
      await sendBundle(ctx.blobs, req, res, bundle, query.part);
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/sites/:id/plan",
    tag: "sites",
    summary: "Preview what installing or upgrading the site to a release would do, changing nothing",
    access: "authenticated",
    params: PlanParams,
    query: PlanQuery,
    responses: { 409: "release_not_sealed, unapproved_sql" },
    handler: async ({ params, query }) => {
      let from = query.from === "none" ? undefined : query.from;
      if (query.from === undefined) {
        const site = await ctx.sites.getSite(params.id);
        if (site.row.installedProduct === query.product && site.row.installedVersion) from = "installed";
      }
      const plan = await planBundle(ctx, { siteId: params.id, product: query.product, version: query.version, from, components: query.components });
      return { body: presentPlan(plan) };
    },
  });

  return router;
}
