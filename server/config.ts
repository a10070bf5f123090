/**
 * Configuration, parsed once from the environment (SPEC §3). Every problem is reported at
 * once, one line per variable, and start-up stops.
 */
import path from "node:path";
import { z } from "zod";

const booleanFromEnv = z
  .enum(["true", "false", "1", "0", "yes", "no"])
  .transform((value) => ["true", "1", "yes"].includes(value));

const EnvSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(8080),
    HOST: z.string().default("0.0.0.0"),
    FERRY_DATA_DIR: z.string().min(1).default("./data"),
    FERRY_CATALOG_DIR: z.string().min(1).default("./catalog"),
    DATABASE_URL: z
      .string()
      .regex(/^postgres(ql)?:\/\//, "must be a postgresql:// URL")
      .optional(),
    FERRY_STORAGE: z.enum(["fs", "s3"]).default("fs"),
    S3_ENDPOINT: z.url().optional(),
    S3_BUCKET: z.string().min(3).optional(),
    S3_REGION: z.string().min(1).default("us-east-1"),
    S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    S3_FORCE_PATH_STYLE: booleanFromEnv.default(false),
    S3_PREFIX: z.string().default(""),
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\//, "must be a redis:// URL")
      .optional(),
    FERRY_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
    FERRY_JWT_TTL_HOURS: z.coerce.number().positive().max(24 * 30).default(12),
    FERRY_SECRET_KEY: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hex characters (32 bytes)")
      .optional(),
    FERRY_SIGNING_KEY: z.string().includes("PRIVATE KEY", { message: "must be an Ed25519 private key in PEM" }).optional(),
    FERRY_ADMIN_PASSWORD: z.string().min(8, "must be at least 8 characters").optional(),
    FERRY_LOGIN_RATE_LIMIT: z.coerce.number().int().positive().default(10),
    FERRY_MAX_UPLOAD_BYTES: z.coerce.number().int().positive().default(64 * 1024 ** 3),
    FERRY_BUNDLE_TTL_DAYS: z.coerce.number().positive().default(30),
    /** Run jobs in the server process; false when separate `ferry worker` processes do. */
    FERRY_EMBEDDED_WORKER: booleanFromEnv.default(true),
    /** A running job whose lease is older than this is taken over (its process died). */
    FERRY_JOB_LEASE_MS: z.coerce.number().int().min(100).default(30_000),
    /** BullMQ key prefix in Redis. */
    FERRY_QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9._-]{1,50}$/, "must be letters, digits, '.', '_' or '-'").default("ferry"),
    /** Delay before the first webhook retry; it doubles with each further attempt. */
    FERRY_WEBHOOK_RETRY_BASE_MS: z.coerce.number().int().min(10).default(10_000),
    /** How long `POST /agent/heartbeat` holds a request open waiting for work (long poll). */
    FERRY_AGENT_LONG_POLL_MS: z.coerce.number().int().min(0).max(120_000).default(25_000),
    /** How often waiting heartbeats re-check the database (work queued by another server process). */
    FERRY_AGENT_RECHECK_MS: z.coerce.number().int().min(50).default(2_000),
    /**
     * A running agent deployment whose agent has sent nothing for this long is flagged
     * stalled (`deployment.stalled` webhook, site history); agents send a keep-alive every
     * quarter of it, so only a stopped agent or a lost connection gets there.
     */
    FERRY_AGENT_STALL_MS: z.coerce.number().int().min(1_000).max(7 * 24 * 3_600_000).default(600_000),
    /**
     * A connection that sends and receives nothing for this long is closed: a stalled upload
     * or a client that stopped reading gives its resources back (an upload is discarded).
     * Longer than the long poll, which is idle by design.
     */
    FERRY_IDLE_TIMEOUT_MS: z.coerce.number().int().min(1_000).default(300_000),
    /**
     * How often a process looks at its resident memory and, once it has grown by 16 MiB,
     * gives the memory glibc's malloc kept after large transfers back to the system
     * (`server/util/malloc-trim.ts`). 0 turns it off.
     */
    FERRY_MALLOC_TRIM_MS: z.coerce.number().int().min(0).default(5_000),
    LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  })
  .superRefine((env, ctx) => {
    if (env.FERRY_IDLE_TIMEOUT_MS <= env.FERRY_AGENT_LONG_POLL_MS) {
      ctx.addIssue({ code: "custom", path: ["FERRY_IDLE_TIMEOUT_MS"], message: "must be longer than FERRY_AGENT_LONG_POLL_MS (a held heartbeat sends nothing)" });
    }
    if (env.FERRY_STORAGE !== "s3") return;
    for (const key of ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"] as const) {
      if (!env[key]) ctx.addIssue({ code: "custom", path: [key], message: "is required when FERRY_STORAGE=s3" });
    }
  });

export type Config = Readonly<
  z.infer<typeof EnvSchema> & {
    dataDir: string;
    catalogDir: string;
  }
>;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
  }
}

/** Parses an environment (process.env by default) into a frozen Config or throws ConfigError. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ""));
  const parsed = EnvSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => `invalid configuration: ${issue.path.join(".") || "environment"} ${issue.message}`),
    );
  }
  return Object.freeze({
    ...parsed.data,
    dataDir: path.resolve(parsed.data.FERRY_DATA_DIR),
    catalogDir: path.resolve(parsed.data.FERRY_CATALOG_DIR),
  });
}
