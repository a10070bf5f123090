/**
 * `ferry worker` as a separate OS process next to a `ferry server` that does not run jobs
 * (FERRY_EMBEDDED_WORKER=false), sharing PostgreSQL, Redis (BullMQ) and a blob directory:
 * a job the server queues waits until a worker starts, then runs there; the worker
 * answers /readyz with its queue check and exits cleanly on SIGTERM.
 * Needs PostgreSQL (FERRY_TEST_DATABASE_URL) and Redis (FERRY_TEST_REDIS_URL), as CI runs.
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { Redis } from "ioredis";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { freshDatabase } from "../support/cluster.js";

const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("ferry worker process", () => {
  test("runs the jobs a server without an embedded worker queues, and stops on SIGTERM", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-worker-"));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const prefix = `ferrye2e-${randomBytes(4).toString("hex")}`;
    cleanups.push(async () => {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    });
    const env = { DATABASE_URL: (await freshDatabase(cleanups, "ferry_worker")).url, FERRY_DATA_DIR: dataDir, REDIS_URL, FERRY_QUEUE_PREFIX: prefix };
    const server = await startFerryProcess({ ...env, FERRY_EMBEDDED_WORKER: "false" });
    cleanups.push(() => server.stop());
    const db = new pg.Client({ connectionString: env.DATABASE_URL });
    await db.connect();
    cleanups.push(() => db.end());
    const token = await server.login();
    const call = async (method: string, url: string, body?: unknown) => {
      const response = await fetch(server.url + url, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    };

    // An artifact uploaded and deleted leaves a blob nothing references; age it past the grace period.
    const content = `orphan ${randomBytes(8).toString("hex")}`;
    const sha256 = createHash("sha256").update(content).digest("hex");
    const put = await fetch(`${server.url}/api/v1/artifacts/tool/1.0.0/tool.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "x-checksum-sha256": sha256 },
      body: content,
    });
    assert.equal(put.status, 201);
    assert.equal((await call("DELETE", "/api/v1/artifacts/tool/1.0.0/tool.txt")).status, 204);
    await db.query(`UPDATE "Blob" SET "createdAt" = "createdAt" - interval '1 day' WHERE sha256 = $1`, [sha256]);

    const started = await call("POST", "/api/v1/gc", { graceMinutes: 60 });
    assert.equal(started.status, 202);
    const jobId = started.body.job.id as string;
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal((await call("GET", `/api/v1/jobs/${jobId}`)).body.status, "queued", "the server itself runs no jobs");

    const worker: FerryProcess = await startFerryProcess(env, ["worker"]);
    cleanups.push(() => worker.stop());
    const job = await until("the job to finish", async () => {
      const { body } = await call("GET", `/api/v1/jobs/${jobId}`);
      return body.status === "queued" || body.status === "running" ? undefined : body;
    });
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    const { rows } = await db.query(`SELECT "lockedBy" FROM "Job" WHERE id = $1`, [jobId]);
    assert.ok(rows[0].lockedBy.startsWith(`${hostname()}:${worker.child.pid}:`), `run by the worker, not ${rows[0].lockedBy}`);
    assert.equal((await db.query(`SELECT 1 FROM "Blob" WHERE sha256 = $1`, [sha256])).rowCount, 0);

    const ready = await fetch(`${worker.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual((await ready.json()).checks.queue, { ok: true });

    worker.kill("SIGTERM");
    assert.equal(await worker.exited, 0);
  });
});
