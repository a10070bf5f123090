/**
 * Migrations run in a child process (`db/cli.ts migrate`), never in the server: on a fresh
 * database, on one a release behind (the upgrade path: PGlite is closed for the child and
 * reopened), not at all when nothing is pending, and, on PostgreSQL, from several processes
 * at once. Runs on PGlite (embedded profile) and on a scratch PostgreSQL database
 * (FERRY_TEST_PROFILE=production).
 *
 *   npx tsx test/run.ts server/db/migrate-process
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { assertEachMigrationAppliedOnce, createScratchDatabase } from "../../test/support/postgres.js";
import { openDatabase, type DatabaseOptions } from "./client.js";
import { localMigrationNames, migrationsDir } from "./migrate.js";
import { migrateInChildProcess, openMigratedDatabase } from "./migrate-process.js";

const production = process.env.FERRY_TEST_PROFILE === "production";
const cleanups: Array<() => Promise<void> | void> = [];
const allMigrations = localMigrationNames();

after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Options for a fresh, empty database of the current profile. */
async function freshDatabase(): Promise<DatabaseOptions> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-migrate-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  if (!production) return { dataDir };
  const database = await createScratchDatabase("ferry_migrate");
  cleanups.push(database.drop);
  return { dataDir, databaseUrl: database.url };
}

async function userCount(options: DatabaseOptions): Promise<number> {
  const { database, applied } = await openMigratedDatabase(options);
  try {
    assert.deepEqual(applied, [], "nothing left to apply");
    return await database.prisma.user.count();
  } finally {
    await database.close();
  }
}

test("a fresh database is migrated by a child process, then opened; a second start applies nothing", async () => {
  const options = await freshDatabase();
  const { database, applied } = await openMigratedDatabase(options);
  try {
    assert.deepEqual(applied, allMigrations);
    assert.deepEqual(await database.appliedMigrations(), [...allMigrations].sort());
    await database.prisma.user.create({ data: { username: "migrated", passwordHash: "x", roles: ["admin"] } });
  } finally {
    await database.close();
  }
  assert.equal(await userCount(options), 1);
});

test("a database one migration behind (an upgrade) gets the missing one from the child and keeps its rows", async (t) => {
  if (allMigrations.length < 2) return t.skip("needs at least two migrations");
  // The previous release's migrations: every directory but the newest.
  const previous = mkdtempSync(path.join(tmpdir(), "ferry-migrations-"));
  cleanups.push(() => rmSync(previous, { recursive: true, force: true }));
  for (const entry of readdirSync(migrationsDir)) {
    if (entry !== allMigrations.at(-1)) cpSync(path.join(migrationsDir, entry), path.join(previous, entry), { recursive: true });
  }
  const options = await freshDatabase();
  const old = await openDatabase(options);
  try {
    assert.deepEqual(await old.migrate(previous), allMigrations.slice(0, -1));
    await old.prisma.user.create({ data: { username: "before-upgrade", passwordHash: "x", roles: ["admin"] } });
  } finally {
    await old.close();
  }

  const { database, applied } = await openMigratedDatabase(options);
  try {
    assert.deepEqual(applied, allMigrations.slice(-1));
    assert.deepEqual(
      (await database.prisma.user.findMany()).map((user) => user.username),
      ["before-upgrade"],
      "the reopened database holds the rows written before the upgrade",
    );
  } finally {
    await database.close();
  }
});

test("a failing migration process reports its own error", async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-migrate-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  await assert.rejects(
    migrateInChildProcess({ dataDir, databaseUrl: "postgresql://ferry@127.0.0.1:1/nowhere" }),
    (error: Error) => /database migrations failed \(migration process exited with 1\)/.test(error.message) && error.message.split("\n").length > 1,
  );
});

test("PostgreSQL: processes starting at once on a fresh database apply each migration exactly once", { skip: !production && "PostgreSQL profile only" }, async () => {
  const options = await freshDatabase();
  const opened = await Promise.all([openMigratedDatabase(options), openMigratedDatabase(options), openMigratedDatabase(options)]);
  try {
    const applied = opened.flatMap((result) => result.applied).sort();
    assert.deepEqual(applied, [...allMigrations].sort(), "every migration applied by exactly one of the processes");
    for (const { database } of opened) assert.equal(await database.prisma.user.count(), 0);
  } finally {
    await Promise.all(opened.map(({ database }) => database.close()));
  }
  await assertEachMigrationAppliedOnce(options.databaseUrl!, allMigrations);
});
