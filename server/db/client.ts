/**
 * The database: PostgreSQL when DATABASE_URL is set, otherwise PGlite (embedded, real
 * PostgreSQL compiled to WASM) under FERRY_DATA_DIR/db. One schema serves both.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import type { SqlMigrationAwareDriverAdapterFactory } from "@prisma/driver-adapter-utils";
import { PrismaClient } from "../generated/prisma/client.js";
import { applyPendingMigrations } from "./migrate.js";

export type Db = PrismaClient;

/**
 * PGlite runs PostgreSQL inside this process, so its buffers count against the server's
 * memory. PostgreSQL's defaults (128 MB shared_buffers) cost ~130 MiB of RSS for a
 * single-user embedded database that needs far less. PGlite's own flags are kept.
 */
const PGLITE_START_PARAMS = [
  ...PGlite.defaultStartParams,
  ...["-c", "shared_buffers=16MB", "-c", "work_mem=4MB", "-c", "maintenance_work_mem=16MB", "-c", "temp_buffers=4MB", "-c", "wal_buffers=1MB"],
];

export interface Database {
  prisma: PrismaClient;
  kind: "postgresql" | "pglite";
  adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  migrate(): Promise<string[]>;
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
async function migratePostgres(databaseUrl: string): Promise<string[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1, connectionTimeoutMillis: 5_000 });
  try {
    return await applyPendingMigrations(new PrismaPg(pool));
  } finally {
    await pool.end();
  }
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  let adapterFactory: SqlMigrationAwareDriverAdapterFactory;
  let closeDriver: () => Promise<void>;
  let kind: Database["kind"];
  if (options.databaseUrl) {
    kind = "postgresql";
    adapterFactory = new PrismaPg({ connectionString: options.databaseUrl, max: 20, connectionTimeoutMillis: 5_000 });
    closeDriver = async () => {};
  } else {
    kind = "pglite";
    let pglite: PGlite;
    if (options.inMemory) {
      // Scratch databases (db:diff, tests) are short-lived: PGlite's defaults, which also
      // reserve their memory up front instead of growing it later.
      pglite = new PGlite();
    } else {
      const dir = path.join(options.dataDir, "db");
      mkdirSync(dir, { recursive: true });
      pglite = new PGlite(dir, { startParams: PGLITE_START_PARAMS });
    }
    await pglite.waitReady;
    adapterFactory = new PrismaPGlite(pglite);
    closeDriver = () => pglite.close();
  }
  const prisma = new PrismaClient({ adapter: adapterFactory });
  return {
    prisma,
    kind,
    adapterFactory,
    migrate: () => (options.databaseUrl ? migratePostgres(options.databaseUrl) : applyPendingMigrations(adapterFactory)),
    async close() {
      await prisma.$disconnect();
      await closeDriver();
    },
  };
}
