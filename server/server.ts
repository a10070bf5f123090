/**
 * Starting and stopping a Ferry server process: open the database (migrations run in a child process),
 * open storage and clean crash leftovers, make sure an admin exists, then listen.
 */
import type { AddressInfo } from "node:net";
import { createServer, type Server } from "node:http";
import { AuditLog } from "./audit/audit.service.js";
import { AuthService } from "./auth/auth.service.js";
import type { Config } from "./config.js";
import type { AppContext } from "./context.js";
import { openMigratedDatabase } from "./db/migrate-process.js";
import { buildApp } from "./http/app.js";
import type { RegisteredRoute } from "./http/route.js";
import { createMetrics } from "./http/metrics.js";
import { createLogger, type Logger } from "./logger.js";
import { loadServerSecrets } from "./secrets/secrets.js";
import { SqlService } from "./sql/sql.service.js";
import { createBlobStore } from "./storage/index.js";
import { CatalogService } from "./catalog/catalog.service.js";
import { defaultPipelinesDir } from "./catalog/catalog.loader.js";
import { ReleasesService } from "./releases/releases.service.js";
import { WebhookService } from "./webhooks/webhooks.service.js";
import { CustomersService } from "./customers/customers.service.js";
import { SitesService } from "./sites/sites.service.js";
import { ImagesService } from "./images/images.service.js";
import { createJobQueue } from "./jobs/index.js";
import { registerJobHandlers } from "./jobs/handlers.js";
import { createBundlesService } from "./bundles/bundles.service.js";
import { DeploymentsService } from "./deployments/deployments.service.js";
import { AgentApiService } from "./agent-api/agent-api.service.js";
import { setHeapGrowth } from "./util/heap-growth.js";
import { fixMallocThresholds, startMallocTrimmer } from "./util/malloc-trim.js";

export interface RunningServer {
  url: string;
  port: number;
  ctx: AppContext;
  server: Server;
  /** Every route with its declared access (the authorization matrix test reads it). */
  routes: RegisteredRoute[];
  close(): Promise<void>;
}

export async function createContext(config: Config, logger: Logger = createLogger(config.LOG_LEVEL)): Promise<AppContext> {
  const { database, applied } = await openMigratedDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir });
  if (applied.length) logger.info({ applied }, "database migrations applied");
  const blobs = await createBlobStore(config, database.prisma, { logger });
  await blobs.recover();
  const secrets = loadServerSecrets(config);
  // A broken catalog does not stop start-up (see CatalogService.start): it is logged and served empty.
  const catalog = new CatalogService({ catalogDir: config.catalogDir, pipelinesDir: defaultPipelinesDir(config.catalogDir) }, logger.child({ domain: "catalog" }));
  await catalog.start();
  const webhooks = new WebhookService(database.prisma, secrets.secretKey, logger, { retryBaseMs: config.FERRY_WEBHOOK_RETRY_BASE_MS });
  const ctx: Omit<AppContext, "bundles" | "deployments" | "agentApi"> = {
    config,
    logger,
    database,
    db: database.prisma,
    blobs,
    secrets,
    audit: new AuditLog(database.prisma),
    auth: new AuthService(database.prisma, { jwtSecret: secrets.jwtSecret, jwtTtlHours: config.FERRY_JWT_TTL_HOURS }),
    metrics: createMetrics(),
    events: webhooks,
    webhooks,
    customers: new CustomersService(database.prisma),
    sites: new SitesService(database.prisma, secrets.secretKey),
    sql: new SqlService(database.prisma, blobs, webhooks, logger),
    catalog,
    releases: new ReleasesService(database.prisma, catalog, webhooks),
    images: new ImagesService(database.prisma, blobs, config.FERRY_MAX_UPLOAD_BYTES),
    jobs: createJobQueue(config, database.prisma, logger),
  };
  const withBundles = { ...ctx, bundles: createBundlesService(ctx) };
  const deployments = new DeploymentsService(withBundles);
  return { ...withBundles, deployments, agentApi: new AgentApiService({ ...withBundles, deployments }) };
}

/**
 * The context of a long-running server or worker process, with its memory settings:
 * malloc's thresholds fixed before the first password hash and the first transfer
 * (util/malloc-trim.ts), V8's heap growth set once the database is known (util/heap-growth.ts).
 */
export async function createProcessContext(config: Config, logger?: Logger): Promise<AppContext> {
  fixMallocThresholds();
  const ctx = await createContext(config, logger);
  setHeapGrowth(ctx.database.kind);
  return ctx;
}

export async function startServer(config: Config, options: { logger?: Logger; announce?: (line: string) => void } = {}): Promise<RunningServer> {
  const ctx = await createProcessContext(config, options.logger);
  const admin = await ctx.auth.ensureFirstAdmin(config.FERRY_ADMIN_PASSWORD);
  if (admin.generatedPassword) {
    // Printed once, to the terminal only, never to the structured log.
    (options.announce ?? console.log)(`\nFirst start: created user "admin" with password ${admin.generatedPassword}\nStore it now; it is not shown again.\n`);
  }
  const { app, routes } = buildApp(ctx);
  const server = createServer({ maxHeaderSize: 16 * 1024, requestTimeout: 0 }, app);
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 65_000;
  // No timeout on a whole request (a large upload may take hours), but one on silence: a
  // socket idle this long is destroyed, and the upload it carried is discarded.
  server.timeout = config.FERRY_IDLE_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  ctx.logger.info({ port, database: ctx.database.kind, storage: config.FERRY_STORAGE }, "ferry listening");
  ctx.webhooks.start();
  ctx.deployments.watchdog.start();
  registerJobHandlers(ctx);
  if (config.FERRY_EMBEDDED_WORKER) await ctx.jobs.startWorking();
  const trimmer = startMallocTrimmer({ intervalMs: config.FERRY_MALLOC_TRIM_MS, logger: ctx.logger });
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    ctx,
    routes: routes.routes,
    server,
    close: () =>
      (closing ??= (async () => {
        trimmer?.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await ctx.jobs.stop();
        ctx.agentApi.stop();
        await ctx.deployments.watchdog.stop();
        await ctx.webhooks.stop();
        await ctx.blobs.close();
        await ctx.database.close();
      })()),
  };
}
