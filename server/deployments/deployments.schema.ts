import { z } from "zod";
import { COMPONENT_NAME } from "../catalog/catalog.schema.js";
import { ProductName, ReleaseVersion } from "../releases/releases.schema.js";

export const DEPLOYMENT_STATUSES = ["queued", "running", "succeeded", "failed", "rolled_back", "cancelled"] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
/** A site has at most one deployment in these statuses. */
export const ACTIVE_STATUSES: DeploymentStatus[] = ["queued", "running"];
export const FINAL_STATUSES: DeploymentStatus[] = ["succeeded", "failed", "rolled_back", "cancelled"];

export const CreateDeploymentBody = z.strictObject({
  site: z.uuid("must be a site id"),
  release: z.strictObject({ product: ProductName, version: ReleaseVersion }),
  /** Base of an incremental bundle: "installed" (the default for upgrades) or a version. */
  from: z.union([z.literal("installed"), ReleaseVersion]).optional(),
  components: z
    .array(z.string().regex(COMPONENT_NAME, "not a component name"))
    .min(1)
    .max(500)
    .refine((list) => new Set(list).size === list.length, { message: "a component may appear only once" })
    .optional(),
});
export type CreateDeploymentInput = z.output<typeof CreateDeploymentBody>;

export const DeploymentParams = z.strictObject({ id: z.uuid("must be a deployment id") });

export const ListDeploymentsQuery = z.strictObject({
  site: z.uuid("must be a site id").optional(),
  status: z.enum(DEPLOYMENT_STATUSES).optional(),
  cursor: z.string().max(300).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

const Timestamp = z.iso.datetime({ offset: true });

export const STEP_STATUSES = ["pending", "running", "started", "succeeded", "failed", "skipped", "rolling_back", "rolled_back", "rollback_failed"] as const;

/** One step transition as the agent reports it; `seq` identifies the step within the deployment. */
export const StepEvent = z.strictObject({
  type: z.literal("step"),
  seq: z.number().int().min(0).max(1_000_000),
  component: z.string().max(100).nullish(),
  name: z.string().min(1).max(300),
  status: z.enum(STEP_STATUSES),
  message: z.string().max(4_000).nullish(),
  at: Timestamp.optional(),
});
export type StepEvent = z.output<typeof StepEvent>;

export const LogEvent = z.strictObject({
  type: z.literal("log"),
  stream: z.enum(["stdout", "stderr", "agent"]).default("agent"),
  line: z.string().max(16_384),
  at: Timestamp.optional(),
});
export type LogEvent = z.output<typeof LogEvent>;

export const AgentEvent = z.discriminatedUnion("type", [StepEvent, LogEvent]);
export type AgentEvent = z.output<typeof AgentEvent>;
