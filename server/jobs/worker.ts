/**
 * `ferry worker`: a process that only runs jobs. It opens the database, storage and
 * context exactly like a server, registers the same handlers and works the queue until
 * SIGTERM/SIGINT, when it stops taking jobs and gives unfinished ones back. It serves
 * /healthz, /readyz and /metrics on PORT so orchestrators can probe it like a server.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import express from "express";
import type { Config } from "../config.js";
import type { AppContext } from "../context.js";
import { healthRoutes } from "../http/health.js";
import { createLogger, type Logger } from "../logger.js";
import { createProcessContext } from "../server.js";
import { registerJobHandlers } from "./handlers.js";
import { startMallocTrimmer } from "../util/malloc-trim.js";

export interface RunningWorker {
  ctx: AppContext;
  url: string;
  close(): Promise<void>;
}

/** Starts a worker in this process (tests use it directly; the CLI adds signal handling). */
export async function startWorker(config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Promise<RunningWorker> {
  const ctx = await createProcessContext(config, logger);
  registerJobHandlers(ctx);
  const app = express();
  app.disable("x-powered-by");
  app.use(healthRoutes(ctx));
  const server: Server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  await ctx.jobs.startWorking();
  const trimmer = startMallocTrimmer({ intervalMs: config.FERRY_MALLOC_TRIM_MS, logger });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  logger.info({ port, transport: config.REDIS_URL ? "bullmq" : "in-process" }, "ferry worker started");
  let closing: Promise<void> | undefined;
  return {
    ctx,
    url: `http://${host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        trimmer?.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ctx.jobs.stop();
        await ctx.database.close();
      })()),
  };
}

export async function runWorker(config: Config): Promise<void> {
  const worker = await startWorker(config);
  const stop = async (signal: string) => {
    worker.ctx.logger.info({ signal }, "worker shutting down");
    await worker.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}
