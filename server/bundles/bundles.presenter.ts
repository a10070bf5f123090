import type { Bundle } from "../generated/prisma/client.js";
import type { BundlePlan } from "./bundles.plan.js";

export function presentBundle(row: Bundle, options: { manifest?: boolean } = {}) {
  return {
    id: row.id,
    status: row.status,
    site: row.siteId,
    release: { product: row.product, version: row.version },
    from: row.fromVersion,
    components: row.components ?? null,
    format: row.format,
    maxPartSize: row.maxPartSize === null ? null : Number(row.maxPartSize),
    progress: { bytesDone: Number(row.bytesDone), bytesTotal: Number(row.bytesTotal), filesDone: row.filesDone, filesTotal: row.filesTotal },
    sha256: row.sha256,
    size: row.size === null ? null : Number(row.size),
    parts: row.parts ?? null,
    error: row.error,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    readyAt: row.readyAt?.toISOString() ?? null,
    lastDownloadedAt: row.lastDownloadedAt?.toISOString() ?? null,
    ...(options.manifest ? { manifest: row.manifest ?? null } : {}),
  };
}

export function presentPlan(plan: BundlePlan) {
  return {
    site: plan.site,
    release: plan.release,
    base: plan.base,
    mode: plan.mode,
    requestedComponents: plan.requestedComponents,
    addedDependencies: plan.addedDependencies,
    components: plan.components,
    requiredReleases: plan.requiredReleases,
    artifacts: plan.artifacts,
    sql: plan.sql.map((db) => ({
      database: db.database,
      dialect: db.dialect,
      scripts: db.scripts.map(({ approvals: _approvals, ...script }) => script),
    })),
    expects: plan.expects,
    bytes: plan.bytes,
  };
}
