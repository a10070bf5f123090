import { z } from "zod";
import { AgentEvent } from "../deployments/deployments.schema.js";

export const HeartbeatBody = z.strictObject({
  agentVersion: z.string().min(1).max(64),
  /**
   * Names the agent (its work directory: kept across restarts). A deployment handed to an
   * agent is given again only to the same agent id; omitted, the agent is the site's only one.
   */
  agentId: z.string().regex(/^[A-Za-z0-9._-]{1,100}$/, "letters, digits, '.', '_' and '-' (at most 100)").optional(),
  /** What the agent sees at the site (components, versions, checksums, host facts); stored as given. */
  inventory: z.record(z.string(), z.unknown()).default({}),
});
export type HeartbeatInput = z.output<typeof HeartbeatBody>;

export const HeartbeatQuery = z.strictObject({
  /** Seconds to hold the request waiting for work, capped by FERRY_AGENT_LONG_POLL_MS; 0 answers at once. */
  wait: z.coerce.number().min(0).max(120).optional(),
});

export const AgentDeploymentParams = z.strictObject({ id: z.uuid("must be a deployment id") });
export const AgentWatchQuery = z.strictObject({
  /** Seconds to hold the request while the deployment runs, capped by FERRY_AGENT_LONG_POLL_MS; 0 answers at once. */
  wait: z.coerce.number().min(0).max(120).optional(),
});
export const AgentBundleParams = z.strictObject({ id: z.uuid("must be a bundle id") });
export const AgentDownloadQuery = z.strictObject({ part: z.coerce.number().int().min(1).optional() });

export const AgentEventsBody = z.strictObject({
  events: z.array(AgentEvent).max(5_000).default([]),
  /** `running` when the apply starts; a final status with the apply's end. */
  status: z.enum(["running", "succeeded", "failed", "rolled_back"]).optional(),
  error: z.string().max(4_000).optional(),
  /** The apply's report (same format as `ferry-agent apply --report`): records inventory and each database's script history. */
  report: z.record(z.string(), z.unknown()).optional(),
});
export type AgentEventsInput = z.output<typeof AgentEventsBody>;
