/**
 * Opens the database with its schema up to date, keeping migrations out of this process.
 *
 * Prisma's schema engine (WebAssembly) stays allocated once loaded (~45 MiB), and PGlite's
 * first start (initdb, then every migration) grows its WebAssembly memory to ~900 MiB,
 * which never shrinks. A server only needs to know that nothing is pending, which one query
 * tells; when something is, a short-lived child process (`db/cli.ts migrate`) applies it
 * and exits, and this process opens the database afterwards.
 *
 * PostgreSQL: the schema engine in each child takes its advisory lock, so servers and
 * workers starting together apply each migration once. PGlite: one process at a time may
 * open a data directory, so this process closes it before the child runs.
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { openDatabase, pgliteInitialised, type Database, type DatabaseOptions } from "./client.js";
import { localMigrationNames } from "./migrate.js";

/** Set by the compiled build (scripts/build.mjs): the URL of the output file running. */
declare const __ferryBundleUrl: string | undefined;

export interface MigratedDatabase {
  database: Database;
  /** The migrations applied during this call (by the child process). */
  applied: string[];
}

export async function openMigratedDatabase(options: DatabaseOptions): Promise<MigratedDatabase> {
  if (options.inMemory) {
    // An in-memory database lives and dies with this process: nothing else can migrate it.
    const database = await openDatabase(options);
    return { database, applied: await database.migrate() };
  }
  if (!options.databaseUrl && !pgliteInitialised(options.dataDir)) {
    const applied = await migrateInChildProcess(options);
    return { database: await openDatabase(options), applied };
  }
  let database = await openDatabase(options);
  try {
    const recorded = new Set(await database.appliedMigrations());
    if (localMigrationNames().every((name) => recorded.has(name))) return { database, applied: [] };
  } catch (error) {
    await database.close();
    throw error;
  }
  if (database.kind === "pglite") await database.close();
  let applied: string[];
  try {
    applied = await migrateInChildProcess(options);
  } catch (error) {
    if (database.kind === "postgresql") await database.close();
    throw error;
  }
  if (database.kind === "pglite") database = await openDatabase(options);
  return { database, applied };
}

/** `node <the migration entry> migrate --json`: the compiled one in a build, else the TypeScript one through tsx. */
function migrationCommand(): string[] {
  if (typeof __ferryBundleUrl === "string") return [fileURLToPath(new URL("./ferry-db.js", __ferryBundleUrl)), "migrate", "--json"];
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return ["--import", tsx, fileURLToPath(new URL("./cli.ts", import.meta.url)), "migrate", "--json"];
}

/** Runs pending migrations in a child process; resolves with the names it applied. */
export async function migrateInChildProcess(options: Pick<DatabaseOptions, "databaseUrl" | "dataDir">): Promise<string[]> {
  const env: NodeJS.ProcessEnv = { ...process.env, FERRY_DATA_DIR: options.dataDir };
  if (options.databaseUrl) env.DATABASE_URL = options.databaseUrl;
  else delete env.DATABASE_URL;
  const child = spawn(process.execPath, migrationCommand(), { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : null)));
  });
  const result = stdout.trim().split("\n").pop() ?? "";
  if (code === 0 && result.startsWith("{")) return (JSON.parse(result) as { applied: string[] }).applied;
  throw new Error(`database migrations failed (migration process exited with ${code}):\n${(stderr || stdout).trim()}`);
}
