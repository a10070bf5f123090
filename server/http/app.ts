/**
 * The Express application: request ids and logs, metrics, authentication, the domain
 * routers under /api/v1, health endpoints, the web console, and error mapping.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { Router, type Express } from "express";
import type { AppContext } from "../context.js";
import { authenticate } from "../auth/authenticate.js";
import { authRoutes } from "../auth/auth.routes.js";
import { auditRoutes } from "../audit/audit.routes.js";
import { sqlRoutes } from "../sql/sql.routes.js";
import { artifactRoutes } from "../artifacts/artifacts.routes.js";
import { webhookRoutes } from "../webhooks/webhooks.routes.js";
import { customerRoutes } from "../customers/customers.routes.js";
import { siteRoutes } from "../sites/sites.routes.js";
import { catalogRoutes } from "../catalog/catalog.routes.js";
import { releaseRoutes } from "../releases/releases.routes.js";
import { imageRoutes } from "../images/images.routes.js";
import { jobRoutes } from "../jobs/jobs.routes.js";
import { gcRoutes } from "../gc/gc.routes.js";
import { bundleRoutes } from "../bundles/bundles.routes.js";
import { deploymentRoutes } from "../deployments/deployments.routes.js";
import { agentApiRoutes } from "../agent-api/agent-api.routes.js";
import { downloadRoutes } from "../downloads/downloads.routes.js";
import { errorHandler, notFoundHandler } from "./error-handler.js";
import { buildOpenApi } from "./openapi.js";
import { RouteTable } from "./route.js";
import { healthRoutes } from "./health.js";
import { requestLog } from "./request-log.js";

const webDist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web/dist");

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value !== "bigint") return value;
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
}

export interface BuiltApp {
  app: Express;
  routes: RouteTable;
}

export function buildApp(ctx: AppContext): BuiltApp {
  const app = express();
  const routes = new RouteTable({ audit: ctx.audit, db: ctx.db });
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback");
  app.set("json replacer", jsonReplacer);
  app.set("query parser", "simple");

  app.use(requestLog(ctx.logger, { quietPaths: new Set(["/healthz", "/metrics"]) }));
  app.use(ctx.metrics.observe);
  app.use(healthRoutes(ctx));

  const api = Router();
  const parseJson = express.json({ limit: "1mb", strict: true, type: ["application/json", "application/*+json"] });
  // A raw artifact upload is streamed to storage whatever its content type (a .json file
  // uploaded by CI must not be parsed and swallowed here).
  api.use((req, res, next) => (req.method === "PUT" && req.path.startsWith("/artifacts/") ? next() : parseJson(req, res, next)));
  api.use(authenticate(ctx.auth));
  // First: agents call in far more often than people do, and Express tries every route
  // mounted before the one that matches.
  api.use(agentApiRoutes(routes, ctx));
  api.use(authRoutes(routes, ctx.auth, { db: ctx.db, loginAttemptsPerMinute: ctx.config.FERRY_LOGIN_RATE_LIMIT }));
  api.use(auditRoutes(routes, ctx.audit));
  api.use(artifactRoutes(routes, ctx));
  api.use(webhookRoutes(routes, ctx));
  api.use(customerRoutes(routes, ctx));
  api.use(siteRoutes(routes, ctx));
  api.use(sqlRoutes(routes, ctx));
  api.use(catalogRoutes(routes, ctx.catalog));
  api.use(releaseRoutes(routes, ctx));
  api.use(imageRoutes(routes, ctx));
  api.use(jobRoutes(routes, ctx));
  api.use(gcRoutes(routes, ctx));
  api.use(bundleRoutes(routes, ctx));
  api.use(deploymentRoutes(routes, ctx));
  api.use(downloadRoutes(routes, ctx));
  routes.add(api, "", {
    method: "get",
    path: "/signing-key",
    tag: "bundles",
    summary: "The Ed25519 public key (PEM) that signs bundle manifests",
    access: "public",
    handler: async ({ res }) => {
      res.type("application/x-pem-file").send(ctx.secrets.signingPublicKeyPem);
    },
  });
  routes.add(api, "", {
    method: "get",
    path: "/openapi.json",
    tag: "meta",
    summary: "This document",
    access: "public",
    handler: async () => ({ body: buildOpenApi(routes.routes.map((r) => ({ ...r, path: `/api/v1${r.path}` })), "1") }),
  });
  app.use("/api/v1", api);
  app.use("/api", notFoundHandler);

  if (existsSync(webDist)) {
    app.use(express.static(webDist, { index: false, maxAge: "1h" }));
    // Client-side routes fall back to the single page.
    app.get(/^\/(?!api\/).*/, (_req, res) => res.sendFile(path.join(webDist, "index.html")));
  }
  app.use(notFoundHandler);
  app.use(errorHandler);
  return { app, routes };
}
