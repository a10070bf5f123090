/**
 * Scratch PostgreSQL databases for tests, on the server at FERRY_TEST_DATABASE_URL
 * (default postgresql://postgres@127.0.0.1:5432/test): one per test file or scenario, so
 * tests never see each other's rows, dropped (even with open connections) afterwards.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";

export const TEST_DATABASE_URL = process.env.FERRY_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface ScratchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function onAdminConnection(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(5).toString("hex")}`;
  await onAdminConnection(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return { name, url: url.toString(), drop: () => onAdminConnection(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** Asserts that the database at `url` recorded each of `migrations` as applied exactly once (and no other). */
export async function assertEachMigrationAppliedOnce(url: string, migrations: readonly string[]): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ migration_name: string; count: string }>(
      "SELECT migration_name, count(*) FROM _prisma_migrations GROUP BY migration_name ORDER BY migration_name",
    );
    assert.deepEqual(
      rows.map((row) => [row.migration_name, Number(row.count)]),
      [...migrations].sort().map((name) => [name, 1]),
    );
  } finally {
    await client.end();
  }
}
