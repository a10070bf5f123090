/**
 * The apply report `ferry-agent apply --report` writes (format `ferry-agent-report/v1`,
 * agent/report.ts). Only what the import relies on is checked; other fields pass through.
 */
import { z } from "zod";
import { findTextProblem } from "../http/route.js";

const Release = z.object({ product: z.string().min(1).max(100), version: z.string().min(1).max(100), digest: z.string().max(200).optional() });

const Artifact = z.object({ filename: z.string().max(500), version: z.string().max(200), sha256: z.string().regex(/^[0-9a-f]{64}$/), size: z.number().optional() });

const HistoryRow = z.object({
  version: z.string().max(100).nullable(),
  filename: z.string().min(1).max(500),
  sha256: z.string().max(64),
  success: z.boolean(),
  installed_on: z.string().max(64),
  type: z.string().max(32).optional(),
});

export const ApplyReport = z.object({
  format: z.literal("ferry-agent-report/v1"),
  agentVersion: z.string().max(64).optional(),
  applyId: z.string().min(1).max(100),
  bundle: z
    .object({
      id: z.string().regex(/^[0-9a-f]{64}$/, "must be the manifest id (sha256 hex)"),
      site: z.object({ id: z.string() }),
      release: Release,
      base: Release.nullable().optional(),
    })
    .nullable(),
  startedAt: z.string().max(64),
  finishedAt: z.string().max(64),
  result: z.enum(["succeeded", "failed", "rolled_back", "drift", "verify_failed", "plan_failed", "dry_run"]),
  error: z.object({ code: z.string().max(100), message: z.string().max(8_000) }).nullable().optional(),
  steps: z
    .array(
      z.object({
        seq: z.number().int().min(0).max(1_000_000),
        component: z.string().max(100),
        name: z.string().max(300),
        status: z.string().max(50),
        error: z.string().max(4_000).optional(),
        startedAt: z.string().max(64).optional(),
        finishedAt: z.string().max(64).optional(),
      }),
    )
    .max(10_000)
    .default([]),
  inventory: z.object({
    release: Release.nullable().optional(),
    components: z.array(z.object({ name: z.string().min(1).max(100), version: z.string().min(1).max(200), artifacts: z.array(Artifact).max(10_000).default([]) })).max(1_000),
  }),
  databases: z
    .array(z.object({ component: z.string().max(100), database: z.string().min(1).max(100), dialect: z.string().max(32), history: z.array(HistoryRow).max(100_000), error: z.string().max(4_000).optional() }))
    .max(200)
    .default([]),
})
  // The report is read raw (not through the route table's checks): text PostgreSQL cannot
  // store is refused here, before anything is looked up or recorded.
  .superRefine((report, ctx) => {
    const found = findTextProblem(report);
    if (found) ctx.addIssue({ code: "custom", path: found.path, message: found.message });
  });
export type ApplyReport = z.output<typeof ApplyReport>;
