/**
 * What the API shows of a site. Secret variable values and the SSH private key are never
 * part of it: only the secret variables' names and `hasPrivateKey`.
 */
import type { SiteEvent } from "../generated/prisma/client.js";
import type { SiteView } from "./sites.service.js";

/** An agent counts as online when it has called in within this window. */
export const AGENT_ONLINE_WINDOW_MS = 2 * 60_000;

export function presentSite({ row, customer, secretVariableNames }: SiteView, now = Date.now()) {
  const ssh = row.ssh as { host: string; port: number; user: string; hosts?: string[]; bastion?: unknown } | null;
  return {
    id: row.id,
    customer,
    name: row.name,
    environment: row.environment,
    platform: row.platform,
    connectivity: row.connectivity,
    variables: row.variables,
    secretVariables: secretVariableNames,
    ssh: ssh
      ? { host: ssh.host, port: ssh.port, user: ssh.user, hosts: ssh.hosts ?? [], bastion: ssh.bastion ?? null, hasPrivateKey: Boolean(row.sshPrivateKey) }
      : null,
    installed: row.installedProduct
      ? { product: row.installedProduct, version: row.installedVersion, components: row.installedComponents ?? [] }
      : null,
    agent:
      row.connectivity === "agent"
        ? {
            hasToken: Boolean(row.agentTokenHash),
            version: row.agentVersion,
            // Exact to within LAST_SEEN_RESOLUTION_MS (agent-api/agent-checkin.ts), well inside the online window.
            lastSeenAt: row.agentLastSeenAt,
            online: Boolean(row.agentLastSeenAt && now - row.agentLastSeenAt.getTime() <= AGENT_ONLINE_WINDOW_MS),
          }
        : null,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** The detail view adds the agent's inventory and the history, newest first. */
export function presentSiteDetail(view: SiteView, history: SiteEvent[]) {
  return {
    ...presentSite(view),
    inventory: view.row.inventory ?? null,
    history: history.map(presentSiteEvent),
  };
}

export function presentSiteEvent(event: SiteEvent) {
  return {
    id: event.id,
    kind: event.kind,
    product: event.product,
    version: event.version,
    deploymentId: event.deploymentId,
    actor: event.actor,
    details: event.details,
    at: event.at,
  };
}
