import { Router } from "express";
import { z } from "zod";
import type { AppContext } from "../context.js";
import { notFound } from "../errors.js";
import type { RouteTable } from "../http/route.js";
import { presentJob } from "./jobs.presenter.js";

const JobParams = z.strictObject({ id: z.string().min(1).max(200) });

export function jobRoutes(routes: RouteTable, ctx: Pick<AppContext, "db">): Router {
  const router = Router();
  routes.add(router, "", {
    method: "get",
    path: "/jobs/:id",
    tag: "admin",
    summary: "A background job's status, attempts and last error",
    access: ["admin"],
    params: JobParams,
    handler: async ({ params }) => {
      const job = await ctx.db.job.findUnique({ where: { id: params.id } });
      if (!job) throw notFound("job", params.id);
      return { body: presentJob(job) };
    },
  });
  return router;
}
