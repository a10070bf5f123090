import { z } from "zod";
import { Slug } from "../customers/customers.schema.js";

export const PLATFORMS = ["vm", "k8s", "docker"] as const;
export const CONNECTIVITIES = ["agent", "ssh", "offline"] as const;

const VariableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "must look like an environment variable name (letters, digits, '_')");
/** Values are kept as strings, as they end up in config templates and environments. */
const VariableValue = z.union([z.string().max(65_536), z.number(), z.boolean()]).transform(String);
const Variables = z.record(VariableName, VariableValue).refine((v) => Object.keys(v).length <= 500, "at most 500 variables");
/** In a PATCH, a value sets or replaces a variable and `null` deletes it. */
const VariableChanges = z.record(VariableName, VariableValue.nullable()).refine((v) => Object.keys(v).length <= 500, "at most 500 variables");

const Hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._:\[\]-]+$/, "must be a host name or IP address");
const Port = z.number().int().min(1).max(65535);
const SshUser = z.string().min(1).max(64).regex(/^[A-Za-z0-9._-]+$/, "must be a user name");

export const SshSettings = z.strictObject({
  host: Hostname,
  port: Port.default(22),
  user: SshUser,
  /** Further hosts of the same site (cluster nodes), reached with the same user and key. */
  hosts: z.array(Hostname).max(100).optional(),
  bastion: z.strictObject({ host: Hostname, port: Port.default(22), user: SshUser }).optional(),
  privateKey: z.string().min(1).max(32_768),
});
export type SshSettings = z.output<typeof SshSettings>;

export const CreateSiteBody = z.strictObject({
  name: Slug,
  environment: Slug,
  platform: z.enum(PLATFORMS),
  connectivity: z.enum(CONNECTIVITIES),
  variables: Variables.default({}),
  secretVariables: Variables.default({}),
  ssh: SshSettings.optional(),
});
export type CreateSiteInput = z.output<typeof CreateSiteBody>;

export const UpdateSiteBody = z
  .strictObject({
    environment: Slug.optional(),
    variables: VariableChanges.optional(),
    secretVariables: VariableChanges.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, "nothing to change");
export type UpdateSiteInput = z.output<typeof UpdateSiteBody>;

export const RecordInstalledBody = z.strictObject({
  product: z.string().min(1).max(100),
  version: z.string().min(1).max(100),
  /** What actually runs, when it differs from the release's component list. */
  components: z
    .array(z.strictObject({ name: z.string().min(1).max(100), version: z.string().min(1).max(100) }))
    .max(500)
    .optional(),
});
export type RecordInstalledInput = z.output<typeof RecordInstalledBody>;

export const SiteParams = z.strictObject({ id: z.uuid() });

export const SiteListQuery = z.strictObject({
  customer: Slug.optional(),
  /** The id of the last site of the previous page. */
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
