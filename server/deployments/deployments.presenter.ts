import type { Deployment, DeploymentLog, DeploymentStep } from "../generated/prisma/client.js";

export function presentDeployment(row: Deployment, steps?: DeploymentStep[]) {
  return {
    id: row.id,
    site: row.siteId,
    release: { product: row.product, version: row.version },
    from: row.fromVersion,
    kind: row.kind,
    transport: row.transport,
    status: row.status,
    bundle: row.bundleId,
    components: (row.components as string[] | null) ?? null,
    error: row.error,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    startedAt: row.startedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    /** Agent deployments: when the agent was last heard from, and since when it has been silent too long (null when not). */
    lastContactAt: row.lastContactAt?.toISOString() ?? null,
    stalledAt: row.stalledAt?.toISOString() ?? null,
    ...(steps ? { steps: steps.map(presentStep) } : {}),
  };
}

export function presentStep(step: DeploymentStep) {
  return {
    seq: step.seq,
    component: step.component,
    name: step.name,
    status: step.status,
    message: step.message,
    startedAt: step.startedAt?.toISOString() ?? null,
    finishedAt: step.finishedAt?.toISOString() ?? null,
  };
}

export function presentLog(log: DeploymentLog) {
  return { id: Number(log.id), at: log.at.toISOString(), stream: log.stream, line: log.line };
}
