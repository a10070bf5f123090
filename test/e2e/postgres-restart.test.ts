/**
 * A real PostgreSQL restart under load (issue 7): Ferry runs on a PostgreSQL cluster of the
 * test's own (test/support/private-postgres.ts; the shared one on 5432 is never
 * restarted) while clients upload, list, log in and create releases without pause. The
 * cluster is restarted (`pg_ctl restart -m fast`), then stopped for a few seconds and
 * started again. Every request must end within a bound, in a success or a clean 503
 * `database_unavailable` (SPEC §4 body, no stack trace); /readyz must go 503 while the
 * database is down and 200 after; afterwards every kind of request succeeds again in the
 * same Ferry process; no artifact is visible without its complete content.
 * Needs PostgreSQL's binaries (initdb, pg_ctl), as CI installs them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { TEST_ADMIN_PASSWORD, type FerryProcess } from "../support/process.js";
import { startPrivatePostgres, type PrivatePostgres } from "../support/private-postgres.js";
import type { Cleanups } from "../support/cluster.js";
import { runCleanups } from "../support/cleanups.js";
import { serverLogFor, sha256, startFerryWithBaseComponent, timedRequest, type Outcome as TimedOutcome } from "../support/database-outage.js";
import { until } from "../support/until.js";

/** No request may take longer than this, database down or not. */
const REQUEST_BOUND_MS = 15_000;
const cleanups: Cleanups = [];
let postgres: PrivatePostgres;
let ferry: FerryProcess;
let dataDir: string;
let token: string;

before(async () => {
  postgres = await startPrivatePostgres();
  cleanups.push(() => postgres.close());
  ({ ferry, token, dataDir } = await startFerryWithBaseComponent(cleanups, { databaseUrl: postgres.url, dataDirPrefix: "ferry-pg-restart-", loginRateLimit: "100000" }));
});

after(() => runCleanups(cleanups));

interface Outcome extends TimedOutcome {
  upload?: { coordinates: string; sha256: string };
}

const request = (what: string, url: string, init: RequestInit = {}, auth = true): Promise<Outcome> =>
  timedRequest(ferry, auth ? token : undefined, what, url, init, REQUEST_BOUND_MS + 5_000);

let counter = 0;
/** One request of each kind the load mixes; uploads alternate between a declared checksum and none (staged, then published). */
function oneOfEach(): Array<Promise<Outcome>> {
  const n = ++counter;
  const content = randomBytes(48 * 1024 + n);
  const coordinates = `tool/1.0.${n}/tool.bin`;
  const checksum: Record<string, string> = n % 2 ? { "x-checksum-sha256": sha256(content) } : {};
  return [
    request("list artifacts", "/api/v1/artifacts?limit=20"),
    request("upload", `/api/v1/artifacts/${coordinates}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", ...checksum },
      body: new Uint8Array(content),
    }).then((outcome) => ({ ...outcome, upload: { coordinates, sha256: sha256(content) } })),
    request("login", "/api/v1/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password: TEST_ADMIN_PASSWORD }) }, false),
    request("create release", "/api/v1/releases", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ product: "shop", version: `1.0.${n}`, components: [{ name: "redis", version: "7.2.5" }] }),
    }),
    request("whoami", "/api/v1/auth/me"),
  ];
}

/** Clients sending rounds of requests back to back until stopped. */
function startLoad(clients: number) {
  const outcomes: Outcome[] = [];
  let running = true;
  const loops = Array.from({ length: clients }, async () => {
    while (running) outcomes.push(...(await Promise.all(oneOfEach())));
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
      return outcomes;
    },
  };
}

/** Polls until `check` holds, up to `timeoutMs`, with Ferry's output in the failure; returns how long it took. */
const waitFor = (what: string, timeoutMs: number, check: () => Promise<boolean>) => until(what, check, timeoutMs, () => ferry.output().slice(-3000));

const readyStatus = async () => (await request("readyz", "/readyz", {}, false)).status;
const roundSucceeds = async () => (await Promise.all(oneOfEach())).every((outcome) => outcome.status < 300);

function assertClean(outcomes: Outcome[]): Outcome[] {
  const failures = outcomes.filter((outcome) => outcome.status >= 300);
  for (const outcome of outcomes) assert.ok(outcome.status !== -1 && outcome.ms <= REQUEST_BOUND_MS, `${outcome.what} took ${outcome.ms} ms: ${outcome.status} ${outcome.text}`);
  for (const outcome of failures) {
    assert.equal(outcome.status, 503, `${outcome.what}: ${outcome.status} ${outcome.text}\n${serverLogFor(ferry, outcome.text)}`);
    const body = JSON.parse(outcome.text) as { error: { code: string; message: string } };
    assert.equal(body.error.code, "database_unavailable", `${outcome.what}: ${outcome.text}`);
    assert.equal(typeof body.error.message, "string");
    assert.doesNotMatch(outcome.text, /\bat \S+ \(|node_modules|\.ts:\d+/, "no stack trace reaches a client");
  }
  return failures;
}

function summary(outcomes: Outcome[]): string {
  const byKind = new Map<string, { ok: number; failed: number; slowest: number }>();
  for (const outcome of outcomes) {
    const entry = byKind.get(outcome.what) ?? { ok: 0, failed: 0, slowest: 0 };
    if (outcome.status < 300) entry.ok++;
    else entry.failed++;
    entry.slowest = Math.max(entry.slowest, outcome.ms);
    byKind.set(outcome.what, entry);
  }
  return [...byKind].map(([what, e]) => `${what}: ${e.ok} ok, ${e.failed} x 503, slowest ${e.slowest} ms`).join("; ");
}

describe("PostgreSQL restarted and stopped under load", () => {
  test("requests fail cleanly while it is away and succeed again without restarting Ferry", { timeout: 110_000 }, async () => {
    assert.ok(await roundSucceeds(), "every kind of request works before the restart");
    assert.equal(await readyStatus(), 200);

    // 1. pg_ctl restart -m fast in the middle of the load.
    const load = startLoad(4);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await postgres.restart();
    const recoveredAfterRestart = await waitFor("requests succeed again after the restart", 30_000, roundSucceeds);

    // 2. Stopped for a few seconds, then started: /readyz goes 503, then 200.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await postgres.stop();
    const stoppedAt = Date.now();
    const notReadyAfter = await waitFor("/readyz answers 503 while PostgreSQL is stopped", 10_000, async () => (await readyStatus()) === 503);
    const ready = await request("readyz", "/readyz", {}, false);
    assert.equal(ready.status, 503, ready.text);
    assert.equal(JSON.parse(ready.text).checks.database.ok, false, ready.text);
    const whileDown = await Promise.all(oneOfEach());
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, 4_000 - (Date.now() - stoppedAt))));
    await postgres.start();
    const readyAgainAfter = await waitFor("/readyz answers 200 once PostgreSQL is back", 30_000, async () => (await readyStatus()) === 200);
    const recoveredAfterStart = await waitFor("requests succeed again after the start", 30_000, roundSucceeds);
    const outcomes = await load.stop();

    // While the database was stopped nothing that needs it can succeed (login included); each says so at once.
    for (const outcome of whileDown) {
      assert.equal(outcome.status, 503, `${outcome.what} while PostgreSQL is stopped: ${outcome.status} ${outcome.text}`);
      assert.ok(outcome.ms < 10_000, `${outcome.what} took ${outcome.ms} ms to fail`);
    }
    const failures = assertClean([...outcomes, ...whileDown]);
    assert.ok(failures.length > 0, "the load really met the outage");
    assert.ok(outcomes.some((outcome) => outcome.status < 300 && outcome.at > stoppedAt), "the load went on succeeding after the start");

    // Afterwards, several more rounds of every kind, from the same process.
    for (let i = 0; i < 3; i++) for (const outcome of await Promise.all(oneOfEach())) assert.ok(outcome.status < 300, `afterwards, ${outcome.what}: ${outcome.status} ${outcome.text}`);
    assert.equal(ferry.child.exitCode, null, "the same Ferry process throughout");
    assert.equal(ferry.child.signalCode, null);

    await assertNothingPartial([...outcomes, ...whileDown]);
    console.log(
      `restart: requests succeed again ${recoveredAfterRestart} ms after pg_ctl restart; stop: /readyz 503 after ${notReadyAfter} ms, 200 ${readyAgainAfter} ms after start, requests succeed ${recoveredAfterStart} ms after start. ${summary([...outcomes, ...whileDown])}`,
    );
  });
});

/**
 * Every artifact row has its blob row and its complete file; an upload that failed is
 * either absent or (committed before the answer was lost) served whole; no staged file is left.
 */
async function assertNothingPartial(outcomes: Outcome[]): Promise<void> {
  const db = new pg.Client({ connectionString: postgres.url });
  await db.connect();
  try {
    const rows = await db.query<{ coordinates: string; sha256: string; size: string; blob: string | null }>(
      `SELECT a.component || '/' || a.version || '/' || a.filename AS coordinates, a.sha256, b.size::text AS size, b.sha256 AS blob
         FROM "Artifact" a LEFT JOIN "Blob" b ON b.sha256 = a.sha256`,
    );
    for (const row of rows.rows) {
      assert.ok(row.blob, `artifact ${row.coordinates} has no blob row`);
      const file = path.join(dataDir, "blobs", "sha256", row.sha256.slice(0, 2), row.sha256);
      assert.ok(existsSync(file), `artifact ${row.coordinates}: no blob file ${file}`);
      assert.equal(statSync(file).size, Number(row.size), `artifact ${row.coordinates}: blob file size`);
    }
  } finally {
    await db.end();
  }
  const failedUploads = outcomes.filter((outcome) => outcome.upload && outcome.status >= 300);
  for (const outcome of failedUploads) {
    const download = await fetch(`${ferry.url}/api/v1/artifacts/${outcome.upload!.coordinates}`, { headers: { authorization: `Bearer ${token}` } });
    if (download.status === 404) continue;
    assert.equal(download.status, 200, `${outcome.upload!.coordinates}: ${download.status}`);
    assert.equal(sha256(Buffer.from(await download.arrayBuffer())), outcome.upload!.sha256, `${outcome.upload!.coordinates} is served whole`);
  }
  const staged = path.join(dataDir, "blobs", "tmp");
  assert.deepEqual(existsSync(staged) ? readdirSync(staged) : [], [], "no staged upload left behind");
}
