/**
 * The S3 server stopped and started under a running Ferry (issue 7 item 4): while it is
 * down an upload gets 503 storage_unavailable and leaves no artifact row, /readyz reports
 * storage not ok; once it is back the same upload succeeds without restarting Ferry, and
 * what was stored before downloads with the right SHA-256.
 * Needs PostgreSQL (FERRY_TEST_DATABASE_URL); runs s3rver as its own process.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { createBucket } from "../support/s3.js";
import { startS3Process, type S3Process } from "../support/s3-process.js";
import { freshDatabase, s3Env, type Cleanups } from "../support/cluster.js";

const cleanups: Cleanups = [];
let s3: S3Process;
let ferry: FerryProcess;
let token: string;
let db: pg.Client;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

before(async () => {
  const s3Dir = mkdtempSync(path.join(tmpdir(), "ferry-faults-s3rver-"));
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-faults-s3-"));
  cleanups.push(() => rmSync(s3Dir, { recursive: true, force: true }), () => rmSync(dataDir, { recursive: true, force: true }));
  s3 = await startS3Process(s3Dir);
  cleanups.push(() => s3.stop());
  await createBucket(s3.endpoint, "ferry-faults");
  const database = await freshDatabase(cleanups, "ferry_faults_s3");
  ferry = await startFerryProcess({ DATABASE_URL: database.url, FERRY_DATA_DIR: dataDir, ...s3Env(s3.endpoint, "ferry-faults") });
  cleanups.push(() => ferry.stop());
  token = await ferry.login();
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  cleanups.push(() => db.end());
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

function upload(coordinates: string, content: Buffer) {
  return fetch(`${ferry.url}/api/v1/artifacts/${coordinates}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": sha256(content) },
    body: new Uint8Array(content),
    signal: AbortSignal.timeout(60_000),
  });
}

async function readyz(): Promise<{ status: number; body: any }> {
  const response = await fetch(`${ferry.url}/readyz`, { signal: AbortSignal.timeout(15_000) });
  return { status: response.status, body: await response.json() };
}

describe("S3 stopped and started under a running server", () => {
  test("503 storage_unavailable while S3 is down, nothing recorded; recovers without a restart", async () => {
    const before = randomBytes(2 * 1024 * 1024 + 5);
    const stored = await upload("tool/1.0.0/tool-before.bin", before);
    assert.equal(stored.status, 201, await stored.text());
    assert.equal((await readyz()).status, 200);

    await s3.stop();
    const content = randomBytes(6 * 1024 * 1024 + 11);
    const refused = await upload("tool/1.0.0/tool-during.bin", content);
    const text = await refused.text();
    assert.equal(refused.status, 503, text);
    assert.equal(JSON.parse(text).error.code, "storage_unavailable");
    assert.doesNotMatch(text, /\bat \S+ \(|node_modules/, "no stack trace in the response");
    assert.equal((await db.query(`SELECT 1 FROM "Artifact" WHERE filename = 'tool-during.bin'`)).rowCount, 0, "no artifact row");
    assert.equal((await db.query(`SELECT 1 FROM "Blob" WHERE sha256 = $1`, [sha256(content)])).rowCount, 0, "no blob row");
    const notReady = await readyz();
    assert.equal(notReady.status, 503);
    assert.equal(notReady.body.checks.storage.ok, false);
    assert.equal(notReady.body.checks.database.ok, true);
    const download = await fetch(`${ferry.url}/api/v1/artifacts/tool/1.0.0/tool-before.bin`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(download.status, 503, "a download while S3 is down fails cleanly too");
    await download.arrayBuffer();

    await s3.start();
    assert.equal((await readyz()).status, 200, "ready again without a restart");
    const retried = await upload("tool/1.0.0/tool-during.bin", content);
    assert.equal(retried.status, 201, await retried.text());
    for (const [filename, bytes] of [["tool-before.bin", before], ["tool-during.bin", content]] as const) {
      const response = await fetch(`${ferry.url}/api/v1/artifacts/tool/1.0.0/${filename}`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(response.status, 200, filename);
      assert.equal(sha256(Buffer.from(await response.arrayBuffer())), sha256(bytes), filename);
    }
    assert.equal(ferry.child.exitCode, null, "the same Ferry process throughout");
  });
});
