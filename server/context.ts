/**
 * Everything a process of Ferry holds open, built once at start-up and handed to each
 * domain's routes and services. Tests build the same thing against real services.
 */
import type { Config } from "./config.js";
import type { Database, Db } from "./db/client.js";
import type { Logger } from "./logger.js";
import type { ServerSecrets } from "./secrets/secrets.js";
import type { BlobStore } from "./storage/blob-store.js";
import type { AuditLog } from "./audit/audit.service.js";
import type { AuthService } from "./auth/auth.service.js";
import type { Metrics } from "./http/metrics.js";
import type { EventSink } from "./webhooks/events.js";
import type { WebhookService } from "./webhooks/webhooks.service.js";
import type { CustomersService } from "./customers/customers.service.js";
import type { SitesService } from "./sites/sites.service.js";
import type { SqlService } from "./sql/sql.service.js";
import type { CatalogService } from "./catalog/catalog.service.js";
import type { ReleasesService } from "./releases/releases.service.js";
import type { ImagesService } from "./images/images.service.js";
import type { JobQueue } from "./jobs/index.js";
import type { BundlesService } from "./bundles/bundles.service.js";
import type { DeploymentsService } from "./deployments/deployments.service.js";
import type { AgentApiService } from "./agent-api/agent-api.service.js";

export interface AppContext {
  config: Config;
  logger: Logger;
  database: Database;
  db: Db;
  blobs: BlobStore;
  secrets: ServerSecrets;
  audit: AuditLog;
  auth: AuthService;
  metrics: Metrics;
  /** Domain events delivered to webhooks. */
  events: EventSink;
  /** Webhook registrations and their delivery loop (started by startServer, stopped on close). */
  webhooks: WebhookService;
  customers: CustomersService;
  /** Sites, including the server-internal accessors for site secrets and SSH credentials. */
  sites: SitesService;
  /** SQL scripts: lint, DBA review, approval gate. */
  sql: SqlService;
  /** The service catalog (catalog/<component>/service.yml), reloadable at run time. */
  catalog: CatalogService;
  releases: ReleasesService;
  /** Container images parsed out of `image` artifacts; their layers are blobs of their own. */
  images: ImagesService;
  /** Background jobs (BullMQ with REDIS_URL, in process otherwise); handlers in jobs/handlers.ts. */
  jobs: JobQueue;
  /** Offline bundles: requests, builds (as jobs), downloads. */
  bundles: BundlesService;
  /** Deployments: create, progress, logs, cancel; the transports report through it. */
  deployments: DeploymentsService;
  /** The site agents' API: long-poll heartbeats, deployment events. */
  agentApi: AgentApiService;
}
