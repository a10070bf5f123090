import { Router } from "express";
import { z } from "zod";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { GC_JOB, type GcJobPayload } from "./gc.job.js";

const GcBody = z.strictObject({
  /** Blobs younger than this are kept (default 60): uploads and builds in progress own them. */
  graceMinutes: z.number().int().min(0).max(60 * 24 * 365).optional(),
  dryRun: z.boolean().optional(),
});

export function gcRoutes(routes: RouteTable, ctx: Pick<AppContext, "jobs">): Router {
  const router = Router();
  routes.add(router, "", {
    method: "post",
    path: "/gc",
    tag: "admin",
    summary: "Expire old bundles and delete unreferenced blobs, as a job (follow it at GET /jobs/:id)",
    access: ["admin"],
    body: GcBody,
    audit: { action: "gc.start", targetType: "job" },
    responses: { 202: "the gc job was queued" },
    handler: async ({ body }) => {
      const payload: GcJobPayload = { dryRun: body.dryRun, graceMs: body.graceMinutes === undefined ? undefined : body.graceMinutes * 60_000 };
      const id = await ctx.jobs.enqueue(GC_JOB, payload);
      return { status: 202, body: { job: { id, type: GC_JOB, status: "queued" } }, audit: { target: id, details: { ...body } } };
    },
  });
  return router;
}
