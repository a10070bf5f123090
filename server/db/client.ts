/**
 * The database: PostgreSQL when DATABASE_URL is set, otherwise PGlite (embedded, real
 * PostgreSQL compiled to WASM) under FERRY_DATA_DIR/db. One schema serves both.
 */
import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { PGlite } from "@electric-sql/pglite";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "../generated/prisma/client.js";
import { lockEmbeddedDatabase } from "./data-dir-lock.js";
import { applyPendingMigrations } from "./migrate.js";
import { transactionAware } from "./transaction-scope.js";
import { compileWasmWithLiftoffOnly } from "./wasm.js";

export type Db = PrismaClient;

/**
 * Each database's driver is imported only by a process that uses it. A process holds the
 * code of the modules it imports for good: `pg` and its adapter are ~2.6 MiB of an embedded
 * server's JavaScript heap, and PGlite's JavaScript ~1 MiB of a PostgreSQL one's.
 */
async function postgresDriver() {
  const [{ default: pg }, { PrismaPg }] = await Promise.all([import("pg"), import("@prisma/adapter-pg")]);
  return { pg, PrismaPg };
}

async function pgliteDriver() {
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([import("@electric-sql/pglite"), import("pglite-prisma-adapter")]);
  return { PGlite, PrismaPGlite };
}

/**
 * PGlite runs PostgreSQL inside this process, so its buffers count against the server's
 * memory. PostgreSQL's defaults (128 MB shared_buffers) cost ~130 MiB of RSS for a
 * single-user embedded database that needs far less. PGlite touches all of shared_buffers
 * at start: 8 MB rather than 16 saved 8 MiB of an idle server, and 16 clients writing
 * audited rows ran as fast (176–193 against 169–186 writes/s); 4 MB rather than 8 took
 * 4–5 MiB off the peak of 2 GiB bundle builds (184–185 against 188–192 MiB), at the same
 * write rate (220–232 against 220–235) and build speed (docs/BENCHMARKS.md). Pages not in
 * the buffers are read from the OS page cache. PGlite's own flags are kept.
 */
const PGLITE_SETTINGS = ["-c", "shared_buffers=4MB", "-c", "work_mem=4MB", "-c", "maintenance_work_mem=16MB", "-c", "temp_buffers=4MB", "-c", "wal_buffers=1MB"];

export interface Database {
  prisma: PrismaClient;
  kind: "postgresql" | "pglite";
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  /** Applies pending migrations in this process (loads the schema engine; see migrate-process.ts); tests may name another migrations directory. */
  migrate(migrationsDirectory?: string): Promise<string[]>;
  /** The migrations recorded as applied, without the schema engine ([] on an empty database). */
  appliedMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  databaseUrl?: string;
  dataDir: string;
  /** Keeps PGlite in memory (tools that need a scratch database). */
  inMemory?: boolean;
}

/**
 * Migrations on PostgreSQL run on their own one-connection pool that is closed afterwards.
 * The schema engine takes a session-level advisory lock (pg_advisory_lock) and relies on its
 * connection closing to release it; through the shared 20-connection pool that connection
 * stayed idle in the pool still holding the lock, so every other process starting at the
 * same time (two servers, workers) timed out after 10 s (P1002) waiting for it.
 */
async function migratePostgres(databaseUrl: string, migrationsDirectory?: string): Promise<string[]> {
  const { pg, PrismaPg } = await postgresDriver();
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: 5_000 });
  try {
    return await applyPendingMigrations(new PrismaPg(pool), migrationsDirectory);
  } finally {
    await pool.end();
  }
}

const APPLIED_MIGRATIONS_SQL =
  "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name";

async function appliedMigrationsOnPostgres(databaseUrl: string): Promise<string[]> {
  const { pg } = await postgresDriver();
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    return (await client.query<{ migration_name: string }>(APPLIED_MIGRATIONS_SQL)).rows.map((row) => row.migration_name);
  } catch (error) {
    if ((error as { code?: string }).code === "42P01") return []; // no _prisma_migrations table yet
    throw error;
  } finally {
    await client.end();
  }
}

async function appliedMigrationsOnPglite(pglite: PGlite): Promise<string[]> {
  const exists = await pglite.query<{ found: string | null }>("SELECT to_regclass('_prisma_migrations')::text AS found");
  if (!exists.rows[0]?.found) return [];
  return (await pglite.query<{ migration_name: string }>(APPLIED_MIGRATIONS_SQL)).rows.map((row) => row.migration_name);
}

/** Where PGlite keeps its data directory under FERRY_DATA_DIR. */
export function pgliteDataDir(dataDir: string): string {
  return path.join(dataDir, "db");
}

/** Whether the embedded database has been created (PGlite's initdb ran) in this data directory. */
export function pgliteInitialised(dataDir: string): boolean {
  return existsSync(path.join(pgliteDataDir(dataDir), "PG_VERSION"));
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  compileWasmWithLiftoffOnly();
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let kind: Database["kind"];
  let appliedMigrations: () => Promise<string[]>;
  if (options.databaseUrl) {
    const databaseUrl = options.databaseUrl;
    appliedMigrations = () => appliedMigrationsOnPostgres(databaseUrl);
    kind = "postgresql";
    const { PrismaPg } = await postgresDriver();
    adapterFactory = new PrismaPg({ connectionString: options.databaseUrl, max: 20, connectionTimeoutMillis: 5_000 });
    closeDriver = async () => {};
  } else {
    kind = "pglite";
    const { PGlite, PrismaPGlite } = await pgliteDriver();
    let pglite: PGlite;
    let unlock = () => {};
    if (options.inMemory) {
      // Scratch databases (db:diff, tests) are short-lived: PGlite's defaults, which also
      // reserve their memory up front instead of growing it later.
      pglite = new PGlite();
    } else {
      const dir = pgliteDataDir(options.dataDir);
      mkdirSync(dir, { recursive: true });
      // Before PGlite touches a file: a second process on these files corrupts them.
      unlock = lockEmbeddedDatabase(dir, `${dir}.lock`);
      pglite = new PGlite(dir, { startParams: [...PGlite.defaultStartParams, ...PGLITE_SETTINGS] });
    }
    try {
      await pglite.waitReady;
    } catch (error) {
      unlock();
      throw error;
    }
    appliedMigrations = () => appliedMigrationsOnPglite(pglite);
    adapterFactory = new PrismaPGlite(pglite);
    closeDriver = async () => {
      try {
        await pglite.close();
      } finally {
        unlock();
      }
    };
  }
  // Transaction-aware: inside a request's transaction (transaction-scope.ts) every query through it joins that transaction.
  const prisma = transactionAware(new PrismaClient({ adapter: adapterFactory }));
  return {
    prisma,
    kind,
    adapterFactory,
    migrate: (migrationsDirectory) =>
      options.databaseUrl ? migratePostgres(options.databaseUrl, migrationsDirectory) : applyPendingMigrations(adapterFactory, migrationsDirectory),
    appliedMigrations,
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
