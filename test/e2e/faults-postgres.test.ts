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
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { BASE_DB, freshDatabase, type Cleanups } from "../support/cluster.js";

const cleanups: Cleanups = [];
let ferry: FerryProcess;
let token: string;
let databaseName: string;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

before(async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-faults-pg-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const database = await freshDatabase(cleanups, "ferry_faults_pg");
  databaseName = database.name;
  ferry = await startFerryProcess({ DATABASE_URL: database.url, FERRY_DATA_DIR: dataDir, FERRY_LOGIN_RATE_LIMIT: "1000" });
  cleanups.push(() => ferry.stop());
  token = await ferry.login();
  // Releases created under load reference this artifact.
  const base = Buffer.from("base component");
  const stored = await request("base upload", "/api/v1/artifacts/redis/7.2.5/redis-7.2.5.tar.gz", {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": sha256(base) },
    body: new Uint8Array(base),
  });
  assert.equal(stored.status, 201, stored.text);
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

interface Outcome {
  what: string;
  status: number;
  text: string;
}

async function request(what: string, url: string, init: RequestInit = {}): Promise<Outcome> {
  const started = Date.now();
  try {
    const response = await fetch(ferry.url + url, { ...init, headers: { authorization: `Bearer ${token}`, ...init.headers }, signal: AbortSignal.timeout(20_000) });
    return { what, status: response.status, text: await response.text() };
  } catch (error) {
    return { what, status: -1, text: `no answer after ${Date.now() - started} ms: ${(error as Error).message}` };
  }
}

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

/** The server's log lines for the request id a 500 names, so a failure shows its cause. */
function serverLogFor(text: string): string {
  const id = /request id ([0-9a-f-]{36})/.exec(text)?.[1];
  return id ? ferry.output().split("\n").filter((line) => line.includes(id)).join("\n").slice(0, 4000) : "";
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
      assert.equal(outcome.status, 503, `${outcome.what}: ${outcome.status} ${outcome.text}\n${serverLogFor(outcome.text)}`);
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
