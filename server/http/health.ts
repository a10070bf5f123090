/** Liveness, readiness (database, storage) and Prometheus metrics. */
import { Router } from "express";
import type { AppContext } from "../context.js";

async function probe(check: () => Promise<unknown>): Promise<{ ok: boolean; error?: string }> {
  try {
    await Promise.race([check(), new Promise((_, reject) => setTimeout(() => reject(new Error("timed out after 3s")), 3000).unref())]);
    return { ok: true };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}

export function healthRoutes(ctx: AppContext): Router {
  const router = Router();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get("/readyz", async (_req, res) => {
    const [database, storage, queue] = await Promise.all([
      probe(() => ctx.db.$queryRaw`SELECT 1`),
      probe(() => ctx.blobs.check()),
      probe(() => ctx.jobs.check()),
    ]);
    const checks = { database, storage, queue };
    const ready = Object.values(checks).every((check) => check.ok);
    res.status(ready ? 200 : 503).json({ status: ready ? "ready" : "not_ready", checks });
  });
  router.get("/metrics", async (_req, res) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  return router;
}
