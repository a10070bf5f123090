/**
 * `sql`: applies the bundle's approved scripts for one database, in the bundle's order,
 * over a real connection, Flyway-like:
 * - every run is recorded in `ferry_schema_history` with the script's sha256;
 * - a versioned script already recorded is skipped, but if its recorded sha256 differs
 *   from the bundle's the step is REFUSED before anything runs (a changed script must
 *   never be mistaken for an applied one);
 * - `init` (baseline) scripts run only on a database with no versioned history; upgrades
 *   at or below the baseline they establish are then skipped;
 * - `repeatable` scripts run when their content changed since their last run;
 * - `undo` scripts never run forward: a rollback runs the undo of each version this step
 *   applied, when the bundle carries one (the schema change stays otherwise, and the log
 *   says so); `backup`/`restore` scripts are for DBAs and are not run.
 *
 * The connection comes from the component's variables: `<DATABASE>_DB_URL`, or else
 * `<DATABASE>_DB_HOST`, `_PORT`, `_NAME` (default: the database name), `_USER`, `_PASSWORD`.
 */
import { readFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import path from "node:path";
import { connectSql, type HistoryRow, type SqlDriver } from "./sql-drivers.js";
import { StepError, type SqlDatabaseContext, type SqlStep, type StepContext } from "./types.js";

const VERSIONED = new Set(["init", "upgrade"]);

export function connectionUrl(database: string, dialect: string, vars: Record<string, string>): string {
  const prefix = `${database.toUpperCase()}_DB_`;
  const url = vars[`${prefix}URL`];
  if (url) return url;
  const host = vars[`${prefix}HOST`];
  if (!host) throw new StepError("sql_connection_missing", `no connection for database ${database}: set ${prefix}URL or ${prefix}HOST (with _PORT, _NAME, _USER, _PASSWORD)`);
  const scheme = dialect === "postgresql" ? "postgresql" : "mysql";
  const port = vars[`${prefix}PORT`] ?? (dialect === "postgresql" ? "5432" : "3306");
  const user = vars[`${prefix}USER`];
  const password = vars[`${prefix}PASSWORD`];
  const auth = user ? `${encodeURIComponent(user)}${password ? `:${encodeURIComponent(password)}` : ""}@` : "";
  return `${scheme}://${auth}${host}:${port}/${encodeURIComponent(vars[`${prefix}NAME`] ?? database)}`;
}

const describe = (filename: string) =>
  path
    .basename(filename)
    .replace(/\.sql$/i, "")
    .replace(/^[VUBR][0-9._]*__/, "")
    .replace(/_/g, " ")
    .trim();

const compareVersions = (a: string, b: string): number => {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (diff) return diff;
  }
  return 0;
};

/** Versions currently applied (a later successful undo cancels a version) and the last content of each repeatable. */
export function appliedFrom(history: HistoryRow[]) {
  const versions = new Map<string, HistoryRow>();
  const repeatables = new Map<string, string>();
  for (const row of history) {
    if (!row.success) continue;
    if (row.type === "undo" && row.version) versions.delete(row.version);
    else if (VERSIONED.has(row.type) && row.version) versions.set(row.version, row);
    else if (row.type === "repeatable") repeatables.set(row.description, row.sha256);
  }
  return { versions, repeatables };
}

export async function sqlStep(step: SqlStep, ctx: StepContext, bundle: { id: string; release: string }): Promise<void> {
  const database = ctx.database(step.database);
  const driver = await connectSql(database.dialect, database.connection, step.timeout).catch((error: Error) => {
    throw new StepError("sql_connection_failed", `cannot connect to database ${database.database}: ${error.message}`);
  });
  try {
    await driver.lock();
    await driver.ensureHistoryTable();
    await applyScripts(driver, database, ctx, bundle);
  } finally {
    await driver.close();
  }
}

async function applyScripts(driver: SqlDriver, database: SqlDatabaseContext, ctx: StepContext, bundle: { id: string; release: string }): Promise<void> {
  const history = await driver.history();
  const failed = history.filter((row) => !row.success);
  if (failed.length && !driver.transactionalDdl) {
    const last = failed.at(-1)!;
    throw new StepError("sql_failed_earlier", `${last.filename} failed on ${database.database} at ${last.installed_on} and may have left part of itself behind; repair the schema by hand and delete its failed row from ferry_schema_history`);
  }
  const { versions, repeatables } = appliedFrom(history);
  // Every recorded script is checked before anything runs: a refusal leaves the database untouched.
  const changed = database.scripts.filter((s) => VERSIONED.has(s.type) && versions.has(s.orderVersion) && versions.get(s.orderVersion)!.sha256 !== s.sha256);
  if (changed.length) {
    const list = changed.map((s) => `${s.filename} (version ${s.orderVersion}: recorded ${versions.get(s.orderVersion)!.sha256.slice(0, 12)}…, bundle ${s.sha256.slice(0, 12)}…)`).join("; ");
    throw new StepError("sql_checksum_mismatch", `refusing to migrate ${database.database}: already applied with other content: ${list}`);
  }
  const fresh = versions.size === 0;
  const inits = database.scripts.filter((s) => s.type === "init");
  const baseline = fresh && inits.length ? inits.map((s) => s.orderVersion).sort(compareVersions).at(-1)! : null;
  const undoFor = new Map(database.scripts.filter((s) => s.type === "undo").map((s) => [s.orderVersion, s]));

  let applied = 0;
  for (const script of database.scripts) {
    const description = describe(script.filename);
    let reason: string | null = null;
    if (script.type === "init") reason = fresh ? null : "the schema exists; init scripts only build a fresh one";
    else if (script.type === "upgrade") {
      if (versions.has(script.orderVersion)) reason = "already applied";
      else if (baseline && compareVersions(script.orderVersion, baseline) <= 0) reason = `included in baseline ${baseline}`;
    } else if (script.type === "repeatable") reason = repeatables.get(description) === script.sha256 ? "unchanged since its last run" : null;
    else reason = `${script.type} scripts are not run forward`;
    if (reason) {
      ctx.info(`skip ${script.filename}: ${reason}`, { database: database.database });
      continue;
    }
    const content = await readFile(script.file);
    if (createHash("sha256").update(content).digest("hex") !== script.sha256) {
      throw new StepError("sql_checksum_mismatch", `${script.filename} does not match the sha256 the bundle manifest gives`);
    }
    const row = {
      version: script.type === "repeatable" ? null : script.orderVersion,
      description,
      type: script.type,
      filename: script.filename,
      sha256: script.sha256,
      component: script.component,
      release: bundle.release,
      bundleId: bundle.id,
      executionTime: 0,
      success: true,
    };
    const started = Date.now();
    try {
      await driver.runAndRecord(content.toString("utf8"), row);
    } catch (error) {
      await driver.record({ ...row, executionTime: Date.now() - started, success: false }).catch(() => undefined);
      throw new StepError("sql_script_failed", `${script.filename} failed on ${database.database}: ${(error as Error).message}`);
    }
    applied++;
    ctx.info(`applied ${script.filename}`, { database: database.database, version: row.version, ms: Date.now() - started });
    const undo = undoFor.get(script.orderVersion);
    if (VERSIONED.has(script.type) && undo) {
      await ctx.addUndo({
        kind: "sql-undo",
        component: script.component,
        database: database.database,
        dialect: database.dialect,
        connection: database.connection,
        scripts: [{ version: script.orderVersion, filename: undo.filename, file: undo.file, sha256: undo.sha256 }],
      });
    }
  }
  ctx.info(`${applied} script(s) applied to ${database.database}`, { database: database.database });
}

/** Runs journaled undo scripts (used by rollback and by crash recovery). */
export async function runSqlUndo(undo: { database: string; dialect: string; connection: string; component: string; scripts: Array<{ version: string; filename: string; file: string; sha256: string }> }, bundle: { id: string; release: string }): Promise<string[]> {
  const driver = await connectSql(undo.dialect, undo.connection);
  const done: string[] = [];
  try {
    await driver.lock();
    const { versions } = appliedFrom(await driver.history());
    for (const script of [...undo.scripts].reverse()) {
      if (!versions.has(script.version)) continue;
      const content = await readFile(script.file);
      if (createHash("sha256").update(content).digest("hex") !== script.sha256) throw new Error(`${script.filename} does not match its manifest sha256`);
      await driver.runAndRecord(content.toString("utf8"), {
        version: script.version,
        description: describe(script.filename),
        type: "undo",
        filename: script.filename,
        sha256: script.sha256,
        component: undo.component,
        release: bundle.release,
        bundleId: bundle.id,
        executionTime: 0,
        success: true,
      });
      done.push(script.filename);
    }
  } finally {
    await driver.close();
  }
  return done;
}

export async function readSqlHistory(dialect: string, connection: string): Promise<HistoryRow[]> {
  const driver = await connectSql(dialect, connection);
  try {
    return await driver.history();
  } catch (error) {
    // A database no script has touched yet has no history table: that is an empty history.
    const code = (error as { code?: string }).code;
    if (code === "42P01" || code === "ER_NO_SUCH_TABLE") return [];
    throw error;
  } finally {
    await driver.close();
  }
}
