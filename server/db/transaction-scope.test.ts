/**
 * Request-scoped transactions, on both databases Ferry runs on: PGlite (in memory,
 * migrated) and a scratch database on the real PostgreSQL, where a second connection shows
 * what other processes can see before the commit.
 *
 *   node --import tsx --test server/db/transaction-scope.test.ts
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createScratchDatabase, type ScratchDatabase } from "../../test/support/postgres.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import { toWireError } from "../http/error-handler.js";
import { openDatabase, type Database } from "./client.js";
import { afterCommit, inTransaction, whenSettled } from "./transaction-scope.js";

const customerNames = async (db: PrismaClient) => (await db.customer.findMany({ orderBy: { name: "asc" } })).map((row) => row.name);

function suite(kind: "pglite" | "postgresql") {
  describe(`request-scoped transactions on ${kind}`, () => {
    let database: Database;
    let db: PrismaClient;
    let scratch: ScratchDatabase | undefined;
    let dataDir: string;
    /** On PostgreSQL: what another process sees. */
    let otherConnection: pg.Client | undefined;
    let serial = 0;
    const unique = (label: string) => `${label}-${kind}-${++serial}`;

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), "ferry-tx-scope-"));
      if (kind === "postgresql") {
        scratch = await createScratchDatabase("ferry_tx_scope");
        database = await openDatabase({ databaseUrl: scratch.url, dataDir });
        otherConnection = new pg.Client({ connectionString: scratch.url });
        await otherConnection.connect();
      } else {
        database = await openDatabase({ dataDir, inMemory: true });
      }
      await database.migrate();
      db = database.prisma;
    });

    after(async () => {
      await otherConnection?.end();
      await database.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("queries through the aware client join the scope: all commit together, or nothing does", async () => {
      const [first, second] = [unique("joined"), unique("joined")];
      await inTransaction(db, async () => {
        await db.customer.create({ data: { name: first } });
        if (otherConnection) {
          const seen = await otherConnection.query(`SELECT 1 FROM "Customer" WHERE name = $1`, [first]);
          assert.equal(seen.rowCount, 0, "another connection must not see the row before the commit");
        }
        await db.$executeRaw`INSERT INTO "Customer" (id, name) VALUES (gen_random_uuid()::text, ${second})`;
      });
      assert.deepEqual((await customerNames(database.prisma)).filter((name) => name === first || name === second), [first, second]);

      const lost = unique("rolled-back");
      await assert.rejects(
        inTransaction(db, async () => {
          await db.customer.create({ data: { name: lost } });
          throw new Error("the handler failed after its write");
        }),
        /the handler failed after its write/,
      );
      assert.equal(await database.prisma.customer.count({ where: { name: lost } }), 0);
    });

    test("a nested $transaction is a savepoint: its failure can be caught and the outer transaction goes on", async () => {
      const [taken, kept] = [unique("taken"), unique("kept")];
      await database.prisma.customer.create({ data: { name: taken } });
      await inTransaction(db, async () => {
        await db.customer.create({ data: { name: kept } });
        const duplicate = await db.$transaction((tx) => tx.customer.create({ data: { name: taken } })).catch((error: { code?: string }) => error.code);
        assert.equal(duplicate, "P2002");
        // PostgreSQL would refuse this ("current transaction is aborted") without the savepoint.
        assert.equal(await db.customer.count({ where: { name: { in: [taken, kept] } } }), 2);
        const [a, b] = await db.$transaction([db.customer.count({ where: { name: kept } }), db.customer.count({ where: { name: taken } })]);
        assert.deepEqual([a, b], [1, 1]);
      });
      assert.equal(await database.prisma.customer.count({ where: { name: kept } }), 1);
    });

    test("after-commit hooks run once the change is visible, in order, and never after a rollback", async () => {
      const name = unique("hooked");
      const ran: string[] = [];
      await inTransaction(db, async () => {
        await db.customer.create({ data: { name } });
        await afterCommit(async () => {
          // A worker woken here must find the row, from any connection.
          const count = otherConnection
            ? (await otherConnection.query(`SELECT 1 FROM "Customer" WHERE name = $1`, [name])).rowCount
            : await database.prisma.customer.count({ where: { name } });
          ran.push(`first saw ${count}`);
        });
        await afterCommit(() => void ran.push("second"));
        assert.deepEqual(ran, [], "hooks wait for the commit");
      });
      assert.deepEqual(ran, ["first saw 1", "second"]);

      const rolledBack: string[] = [];
      await assert.rejects(
        inTransaction(db, async () => {
          await afterCommit(() => void rolledBack.push("ran"));
          throw new Error("rolled back");
        }),
      );
      assert.deepEqual(rolledBack, []);

      const now: string[] = [];
      await afterCommit(() => void now.push("ran at once"));
      assert.deepEqual(now, ["ran at once"], "outside a scope a hook runs at once");
    });

    test("settled hooks run once the transaction has ended, committed or rolled back, before after-commit hooks", async () => {
      const ran: string[] = [];
      await inTransaction(db, async () => {
        await afterCommit(() => void ran.push("after commit"));
        await whenSettled(() => void ran.push("settled (committed)"));
        await db.$transaction(async () => {
          // Registered inside a savepoint: it still waits for the outer transaction.
          await whenSettled(() => void ran.push("settled from a savepoint"));
        });
        assert.deepEqual(ran, []);
      });
      assert.deepEqual(ran, ["settled (committed)", "settled from a savepoint", "after commit"]);

      const name = unique("settled");
      let countWhenSettled = -1;
      await assert.rejects(
        inTransaction(db, async () => {
          await db.customer.create({ data: { name } });
          await whenSettled(async () => {
            countWhenSettled = await database.prisma.customer.count({ where: { name } });
          });
          throw new Error("rolled back");
        }),
        /rolled back/,
      );
      assert.equal(countWhenSettled, 0, "a settled hook sees the rolled-back state");
    });

    test("a failing hook is reported and does not undo the commit", async () => {
      const name = unique("committed");
      const reported: unknown[] = [];
      await inTransaction(
        db,
        async () => {
          await db.customer.create({ data: { name } });
          await afterCommit(() => Promise.reject(new Error("redis is down")));
        },
        { onHookError: (error) => reported.push((error as Error).message) },
      );
      assert.deepEqual(reported, ["redis is down"]);
      assert.equal(await database.prisma.customer.count({ where: { name } }), 1);
    });

    test("work left running after the scope ends uses the plain client, not the finished transaction", async () => {
      const name = unique("late");
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let late: Promise<unknown> | undefined;
      await inTransaction(db, async () => {
        late = gate.then(() => db.customer.create({ data: { name } }));
      });
      release();
      await late;
      assert.equal(await database.prisma.customer.count({ where: { name } }), 1);
    });

    test("work that outlives the timeout is rolled back, and a client is told 503 database_busy", async () => {
      const name = unique("slow");
      const error = await inTransaction(
        db,
        async () => {
          await db.customer.create({ data: { name } });
          await new Promise((resolve) => setTimeout(resolve, 400));
          await db.customer.count();
        },
        { timeoutMs: 100 },
      ).then(
        () => assert.fail("the transaction should have timed out"),
        (caught: unknown) => caught,
      );
      assert.equal((error as { code?: string }).code, "P2028");
      assert.equal(toWireError(error)?.status, 503);
      assert.equal(toWireError(error)?.code, "database_busy");
      assert.equal(await database.prisma.customer.count({ where: { name } }), 0);
    });

    test("inTransaction inside a scope joins it instead of opening a second transaction", async () => {
      const name = unique("inner");
      await assert.rejects(
        inTransaction(db, async () => {
          await inTransaction(db, () => db.customer.create({ data: { name } }));
          throw new Error("the outer work failed");
        }),
      );
      assert.equal(await database.prisma.customer.count({ where: { name } }), 0);
    });
  });
}

suite("pglite");
suite("postgresql");
