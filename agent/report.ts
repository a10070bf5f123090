/**
 * The apply report (`--report FILE`, format `ferry-agent-report/v1`), which
 * `POST /sites/:id/reports` imports for offline sites: the bundle, the result of every
 * step, the resulting inventory with checksums, and each site database's applied-script
 * history (read from its ferry_schema_history table), so the server keeps the record of
 * what ran at the site even where it can never reach the database.
 */
import { writeFileAtomic } from "./fsutil.js";
import type { ApplyLog } from "./log.js";
import type { BundleManifest, ReleaseRef } from "./manifest.js";
import { readDescriptor, type Descriptor } from "./plan.js";
import type { StepResult } from "./runner.js";
import type { AgentState, WorkDir } from "./state.js";
import type { HistoryRow } from "./steps/sql-drivers.js";
import { connectionUrl, readSqlHistory } from "./steps/sql.js";
import type { VarsFile } from "./vars.js";
import type { Drift } from "./drift.js";

export const REPORT_FORMAT = "ferry-agent-report/v1";
export const AGENT_VERSION = "0.1.0";

export type ApplyResult = "succeeded" | "failed" | "rolled_back" | "drift" | "verify_failed" | "plan_failed" | "dry_run";

export interface DatabaseHistory {
  component: string;
  database: string;
  dialect: string;
  history: HistoryRow[];
  error?: string;
}

export interface ApplyReport {
  format: typeof REPORT_FORMAT;
  agentVersion: string;
  applyId: string;
  bundle: { id: string; folder: string; mode: string; site: BundleManifest["site"]; release: ReleaseRef; base: ReleaseRef | null } | null;
  startedAt: string;
  finishedAt: string;
  result: ApplyResult;
  error: { code: string; message: string } | null;
  drift: Drift[];
  forced: boolean;
  recovered: { applyId: string; bundleId: string; result: string } | null;
  steps: StepResult[];
  inventory: {
    site: AgentState["site"];
    release: AgentState["release"];
    components: Array<{ name: string; version: string; artifacts: AgentState["components"][string]["artifacts"]; files: Array<{ path: string; sha256: string; size: number }> }>;
  };
  databases: DatabaseHistory[];
}

export function inventoryOf(state: AgentState): ApplyReport["inventory"] {
  return {
    site: state.site,
    release: state.release,
    components: Object.entries(state.components)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, c]) => ({
        name,
        version: c.version,
        artifacts: c.artifacts,
        files: Object.entries(c.files)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([file, f]) => ({ path: file, sha256: f.sha256, size: f.size })),
      })),
  };
}

/** The history of every database an installed component declares, one connection per distinct database. */
export async function databaseHistories(state: AgentState, workdir: WorkDir, vars: VarsFile): Promise<DatabaseHistory[]> {
  const out: DatabaseHistory[] = [];
  const seen = new Set<string>();
  for (const name of Object.keys(state.components).sort()) {
    const descriptor: Descriptor | null = await readDescriptor(workdir.componentDir(name)).catch(() => null);
    for (const db of descriptor?.sql ?? []) {
      const values: Record<string, string> = {};
      for (const [key, variable] of Object.entries(descriptor!.variables)) if (variable.default !== undefined) values[key] = String(variable.default);
      for (const [key, value] of Object.entries({ ...vars.vars, ...(vars.components[name] ?? {}) })) values[key] = String(value);
      const entry: DatabaseHistory = { component: name, database: db.database, dialect: db.dialect, history: [] };
      try {
        const url = connectionUrl(db.database, db.dialect, values);
        if (seen.has(`${db.dialect} ${url}`)) continue;
        seen.add(`${db.dialect} ${url}`);
        entry.history = await readSqlHistory(db.dialect, url);
      } catch (error) {
        entry.error = (error as Error).message;
      }
      out.push(entry);
    }
  }
  return out;
}

export async function writeReport(file: string, report: ApplyReport, log: ApplyLog): Promise<void> {
  await writeFileAtomic(file, `${log.mask(JSON.stringify(report, null, 2))}\n`, 0o600);
}
