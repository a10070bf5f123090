/**
 * PostgreSQL connections severed under load (issue 7 item 4). Restarting the machine's
 * shared PostgreSQL would disturb everything else on it, so the test does what a restart
 * does to Ferry: it terminates every backend of Ferry's database while requests run,
 * several times. Each request must end promptly with a success or a clean 503
 * (database_unavailable), never a hang or a 500, and afterwards requests succeed again
 * without restarting Ferry.
 * Needs PostgreSQL (FERRY_TEST_DATABASE_URL).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { FerryProcess } from "../support/process.js";
import { BASE_DB, freshDatabase, type Cleanups } from "../support/cluster.js";
import { runCleanups } from "../support/cleanups.js";
import { serverLogFor, sha256, startFerryWithBaseComponent, timedRequest, type Outcome } from "../support/database-outage.js";

const cleanups: Cleanups = [];
let ferry: FerryProcess;
let token: string;
let databaseName: string;

before(async () => {
  const database = await freshDatabase(cleanups, "ferry_faults_pg");
  databaseName = database.name;
  ({ ferry, token } = await startFerryWithBaseComponent(cleanups, { databaseUrl: database.url, dataDirPrefix: "ferry-faults-pg-", loginRateLimit: "1000" }));
});

after(() => runCleanups(cleanups));

const request = (what: string, url: string, init: RequestInit = {}) => timedRequest(ferry, token, what, url, init, 20_000);

let counter = 0;
function oneOfEach(): Array<Promise<Outcome>> {
  const content = randomBytes(64 * 1024);
  const n = ++counter;
  return [
    request("list artifacts", "/api/v1/artifacts?limit=20"),
    request("upload", `/api/v1/artifacts/tool/1.0.${n}/tool.bin`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": sha256(content) },
      body: new Uint8Array(content),
    }),
    request("create release", "/api/v1/releases", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ product: "shop", version: `1.0.${n}`, components: [{ name: "redis", version: "7.2.5" }] }),
    }),
    request("whoami", "/api/v1/auth/me"),
  ];
}

async function severConnections(): Promise<number> {
  const client = new pg.Client({ connectionString: BASE_DB });
  await client.connect();
  try {
    const { rowCount } = await client.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [databaseName]);
    return rowCount ?? 0;
  } finally {
    await client.end();
  }
}

describe("PostgreSQL connections severed under load", () => {
  test("requests end in a success or a clean 503, then succeed again without a restart", async () => {
    const warmUp = await Promise.all(oneOfEach());
    for (const outcome of warmUp) assert.ok(outcome.status < 300, `${outcome.what}: ${outcome.status} ${outcome.text}`);

    const outcomes: Outcome[] = [];
    let severed = 0;
    for (let round = 0; round < 5; round++) {
      const inFlight = Array.from({ length: 5 }, () => oneOfEach()).flat();
      await new Promise((resolve) => setTimeout(resolve, 20 * round));
      severed += await severConnections();
      outcomes.push(...(await Promise.all(inFlight)));
    }
    assert.ok(severed > 0, "the test really cut Ferry's connections");
    const failures = outcomes.filter((outcome) => outcome.status >= 300);
    for (const outcome of failures) {
      assert.equal(outcome.status, 503, `${outcome.what}: ${outcome.status} ${outcome.text}\n${serverLogFor(ferry, outcome.text)}`);
      const body = JSON.parse(outcome.text) as { error: { code: string; message: string } };
      assert.equal(body.error.code, "database_unavailable", `${outcome.what}: ${outcome.text}`);
      assert.doesNotMatch(outcome.text, /\bat \S+ \(|node_modules/);
    }

    // Recovery: the pool replaces the dead connections; every kind of request works again.
    for (let i = 0; i < 3; i++) {
      const afterwards = await Promise.all(oneOfEach());
      for (const outcome of afterwards) assert.ok(outcome.status < 300, `after the cut, ${outcome.what}: ${outcome.status} ${outcome.text}`);
    }
    const ready = await request("readyz", "/readyz");
    assert.equal(ready.status, 200, ready.text);
    assert.equal(ferry.child.exitCode, null, "the same Ferry process throughout");
    console.log(`severed ${severed} connections; ${outcomes.length - failures.length} successes and ${failures.length} clean 503s under the cuts`);
  });
});
