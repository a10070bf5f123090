/** Deployments as the API presents them (server/deployments/deployments.presenter.ts). */
export const DEPLOYMENT_STATUSES = ["queued", "running", "succeeded", "failed", "rolled_back", "cancelled"] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** Roles that may start and cancel deployments (the API's access list). */
export const DEPLOYERS = ["operator", "admin"] as const;

export interface DeploymentStep {
  seq: number;
  component: string | null;
  name: string;
  status: string;
  message: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Deployment {
  id: string;
  site: string;
  release: { product: string; version: string };
  from: string | null;
  kind: "install" | "upgrade" | "rollback" | string;
  transport: string;
  status: DeploymentStatus;
  bundle: string | null;
  components: string[] | null;
  error: string | null;
  createdBy: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  /** Agent deployments: the agent's last request (claim, events, keep-alive); null before it claims one. */
  lastContactAt: string | null;
  /** Set by the server's stall watchdog while a running agent deployment's agent is silent too long; null otherwise. */
  stalledAt: string | null;
  steps?: DeploymentStep[];
}

export interface DeploymentLogLine {
  id: number;
  at: string;
  stream: "stdout" | "stderr" | "agent" | string;
  line: string;
}

export function isActive(status: string): boolean {
  return status === "queued" || status === "running";
}

/** Still running, but its agent has gone silent (flagged by the server; it clears when the agent reports again). */
export function isStalled(d: Pick<Deployment, "status" | "stalledAt">): boolean {
  return d.stalledAt !== null && isActive(d.status);
}

export function deploymentTitle(d: Pick<Deployment, "kind" | "release">): string {
  const kind = d.kind.charAt(0).toUpperCase() + d.kind.slice(1);
  return `${kind} ${d.release.product} ${d.release.version}`;
}
