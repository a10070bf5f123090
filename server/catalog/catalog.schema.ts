/**
 * The service descriptor format (`catalog/<component>/service.yml`, apiVersion ferry/v1)
 * and the pipeline step schema the site agent runs. Every object is strict: an unknown
 * key is an error, so a typo never silently disables a step.
 */
import { z } from "zod";

export const COMPONENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
export const PLATFORMS = ["vm", "k8s", "docker"] as const;
export const ARTIFACT_KINDS = ["binary", "image", "sql", "chart", "config", "other"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];
export const SQL_DIALECTS = ["postgresql", "mysql", "oracle", "sqlserver"] as const;
export const PIPELINE_NAMES = ["install", "upgrade", "rollback", "start", "stop", "healthcheck"] as const;
export type PipelineName = (typeof PIPELINE_NAMES)[number];

const componentName = z.string().regex(COMPONENT_NAME, "must be lowercase letters, digits and dashes, starting with a letter");
const artifactRef = z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "must name an entry of `artifacts`");
/** A path the agent writes to; `${{ … }}` expressions are allowed. */
const targetPath = z.string().min(1).max(1024);

/** `30`, `30s`, `5m`, `1h` → seconds. */
export const Duration = z
  .union([z.number().int().positive(), z.string().regex(/^\d+(s|m|h)$/, "must be a number of seconds or like 30s, 5m, 1h")])
  .transform((value) => {
    if (typeof value === "number") return value;
    const amount = Number(value.slice(0, -1));
    return amount * { s: 1, m: 60, h: 3600 }[value.at(-1) as "s" | "m" | "h"];
  });

const stepBase = {
  name: z.string().min(1).max(200).optional(),
  /** Run the step only on these platforms (default: every platform of the service). */
  platforms: z.array(z.enum(PLATFORMS)).min(1).optional(),
};

const RunStep = z.strictObject({
  ...stepBase,
  type: z.literal("run"),
  command: z.string().min(1),
  workdir: targetPath.optional(),
  env: z.record(z.string().regex(VARIABLE_NAME, "must be a valid environment variable name"), z.union([z.string(), z.number(), z.boolean()])).optional(),
  timeout: Duration.optional(),
});

const ExtractStep = z.strictObject({
  ...stepBase,
  type: z.literal("extract"),
  artifact: artifactRef,
  to: targetPath,
  /** Leading path components to drop, as `tar --strip-components`. */
  strip: z.number().int().min(0).max(16).optional(),
});

const CopyStep = z.strictObject({
  ...stepBase,
  type: z.literal("copy"),
  artifact: artifactRef,
  to: targetPath,
  mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal mode like 0644").optional(),
});

const TemplateStep = z.strictObject({
  ...stepBase,
  type: z.literal("template"),
  /** A file under the component's `config/` folder, ending in `.tpl`. */
  source: z.string().regex(/^config\/[A-Za-z0-9._/-]+\.tpl$/, "must be a file under config/ ending in .tpl"),
  /** Defaults to the target declared for `source` under the service's `config`. */
  to: targetPath.optional(),
  mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal mode like 0640").optional(),
});

const SqlStep = z.strictObject({
  ...stepBase,
  type: z.literal("sql"),
  /** A database from the service's `sql` list; its approved scripts are applied in order. */
  database: z.string().min(1),
  timeout: Duration.optional(),
});

const ImageLoadStep = z.strictObject({
  ...stepBase,
  type: z.literal("image-load"),
  artifact: artifactRef,
  /** docker (default), skopeo or ctr, or a full command with `${{ image.archive }}`. */
  command: z.string().min(1).optional(),
});

const HealthcheckStep = z.strictObject({
  ...stepBase,
  type: z.literal("healthcheck"),
  http: z.strictObject({ url: z.string().min(1), expectStatus: z.number().int().min(100).max(599).default(200) }).optional(),
  tcp: z.strictObject({ host: z.string().min(1).default("127.0.0.1"), port: z.union([z.number().int().min(1).max(65535), z.string().min(1)]) }).optional(),
  command: z.string().min(1).optional(),
  retries: z.number().int().min(0).max(1000).default(10),
  interval: Duration.default(5),
  timeout: Duration.default(5),
});

const STEP_SHAPES = [RunStep, ExtractStep, CopyStep, TemplateStep, SqlStep, ImageLoadStep, HealthcheckStep] as const;

const checkProbe = (step: { type: string; http?: unknown; tcp?: unknown; command?: unknown }, ctx: z.RefinementCtx, path: PropertyKey[]) => {
  if (step.type !== "healthcheck") return;
  const probes = [step.http, step.tcp, step.command].filter((probe) => probe !== undefined).length;
  if (probes !== 1) ctx.addIssue({ code: "custom", path, message: "a healthcheck needs exactly one of http, tcp or command" });
};

/** The shape a rollback takes: any step, without a rollback of its own. */
const SimpleStep = z.discriminatedUnion("type", [...STEP_SHAPES]);

export const Step = z
  .discriminatedUnion("type", [
    RunStep.extend({ rollback: SimpleStep.optional() }),
    ExtractStep.extend({ rollback: SimpleStep.optional() }),
    CopyStep.extend({ rollback: SimpleStep.optional() }),
    TemplateStep.extend({ rollback: SimpleStep.optional() }),
    SqlStep.extend({ rollback: SimpleStep.optional() }),
    ImageLoadStep.extend({ rollback: SimpleStep.optional() }),
    HealthcheckStep.extend({ rollback: SimpleStep.optional() }),
  ])
  .superRefine((step, ctx) => {
    checkProbe(step, ctx, []);
    if (step.rollback) checkProbe(step.rollback, ctx, ["rollback"]);
  });
export type Step = z.output<typeof Step>;
export type StepType = Step["type"];
export const STEP_TYPES = STEP_SHAPES.map((shape) => shape.shape.type.value);

/** `- include: java-service-install` with optional parameters; expanded at load time. */
export const IncludeStep = z.strictObject({
  include: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, "must name a template in pipelines/ (file name without .yml)"),
  with: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/), z.union([z.string(), z.number(), z.boolean()])).optional(),
});
export type IncludeStep = z.output<typeof IncludeStep>;

const Variable = z
  .strictObject({
    description: z.string().max(500).optional(),
    default: z.union([z.string(), z.number(), z.boolean()]).optional(),
    required: z.boolean().default(false),
    secret: z.boolean().default(false),
  })
  .refine((v) => !(v.required && v.default !== undefined), { message: "a required variable cannot have a default" })
  .refine((v) => !(v.secret && v.default !== undefined), { message: "a secret variable cannot have a default in the catalog" });

const ArtifactPattern = z.strictObject({
  name: artifactRef,
  kind: z.enum(ARTIFACT_KINDS),
  /** Glob over the artifact's filename: `*`, `?` and `{a,b}`. */
  pattern: z.string().min(1).max(200).regex(/^[^/\\]+$/, "matches a file name, so it cannot contain a slash"),
  description: z.string().max(500).optional(),
});

const SqlDatabase = z.strictObject({
  database: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must be lowercase letters, digits and underscores"),
  dialect: z.enum(SQL_DIALECTS),
  /** The catalog component hosting the database; must be among dependsOn. */
  server: componentName.optional(),
  /** Where the release tarball keeps the scripts: `<source>/{table,data}/{all,update}`. */
  source: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/, "must be a relative path").optional(),
});

const ConfigTemplate = z.strictObject({
  source: z.string().regex(/^config\/[A-Za-z0-9._/-]+\.tpl$/, "must be a file under config/ ending in .tpl"),
  target: targetPath,
  mode: z.string().regex(/^0?[0-7]{3}$/, "must be an octal mode like 0640").optional(),
});

const Port = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,30}$/),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(["tcp", "udp"]).default("tcp"),
  /** Reachable from outside the site (a gateway's listener) rather than only internally. */
  public: z.boolean().default(false),
});

/** Pipelines before includes are expanded: each entry is validated by the loader. */
const RawPipelines = z.strictObject(Object.fromEntries(PIPELINE_NAMES.map((name) => [name, z.array(z.unknown()).min(1).optional()])) as Record<PipelineName, z.ZodOptional<z.ZodArray<z.ZodUnknown>>>);

export const ServiceDescriptor = z.strictObject({
  apiVersion: z.literal("ferry/v1"),
  name: componentName,
  description: z.string().min(1).max(2000),
  platforms: z.array(z.enum(PLATFORMS)).min(1),
  dependsOn: z.array(componentName).default([]),
  ports: z.array(Port).default([]),
  artifacts: z.array(ArtifactPattern).default([]),
  sql: z.array(SqlDatabase).default([]),
  config: z.array(ConfigTemplate).default([]),
  /** A Helm chart folder inside the component folder (holds Chart.yaml). */
  chart: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a folder name inside the component folder").optional(),
  variables: z.record(z.string().regex(VARIABLE_NAME, "must be a valid variable name"), Variable).default({}),
  pipelines: RawPipelines.refine((p) => p.install !== undefined, { message: "an install pipeline is required", path: ["install"] }),
});
export type ServiceDescriptor = z.output<typeof ServiceDescriptor>;

/** `pipelines/<name>.yml`: reusable steps with declared parameters. */
export const PipelineTemplate = z.strictObject({
  apiVersion: z.literal("ferry/v1"),
  description: z.string().min(1).max(2000),
  params: z
    .record(
      z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/),
      z.strictObject({ description: z.string().max(500).optional(), default: z.union([z.string(), z.number(), z.boolean()]).optional() }),
    )
    .default({}),
  steps: z.array(z.unknown()).min(1),
});
export type PipelineTemplate = z.output<typeof PipelineTemplate>;
