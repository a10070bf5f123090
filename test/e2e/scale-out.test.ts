/**
 * Scale-out (SPEC §3, issue 7 item 1): two `ferry server` processes without embedded
 * workers and two `ferry worker` processes share one PostgreSQL database, one Redis
 * (BullMQ, own prefix) and one S3 bucket, and nothing else. Through both servers at once:
 * the same content uploaded under different coordinates is stored as one blob and one
 * object; the same bundle request makes one bundle, built by one job exactly once; agent
 * heartbeats with one site token are accepted by either server.
 * Needs PostgreSQL (FERRY_TEST_DATABASE_URL), Redis (FERRY_TEST_REDIS_URL) and S3
 * (FERRY_TEST_S3_ENDPOINT, or an in-process s3rver).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import { createBucket, startS3, testS3Client } from "../support/s3.js";
import { BINARY, bundleWorld, type BundleWorld } from "../support/bundles.js";
import { callApi, freshDatabase, freshQueuePrefix, remoteServer, REDIS_URL, s3Env, sharedSecrets, type Cleanups } from "../support/cluster.js";

const cleanups: Cleanups = [];
let servers: FerryProcess[] = [];
let db: pg.Client;
let s3Endpoint: string;
let bucket: string;
let worlds: BundleWorld[];

before(async () => {
  const database = await freshDatabase(cleanups, "ferry_scale");
  const s3 = await startS3();
  cleanups.push(() => s3.close());
  s3Endpoint = s3.endpoint;
  bucket = `ferry-scale-${randomBytes(4).toString("hex")}`;
  await createBucket(s3Endpoint, bucket);
  // Every process gets its own data directory: they may share nothing but the services.
  const env = (role: string) => {
    const dataDir = mkdtempSync(path.join(tmpdir(), `ferry-scale-${role}-`));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    return { ...common, FERRY_DATA_DIR: dataDir };
  };
  const common = {
    DATABASE_URL: database.url,
    REDIS_URL,
    FERRY_QUEUE_PREFIX: freshQueuePrefix(cleanups),
    ...s3Env(s3Endpoint, bucket),
    ...sharedSecrets(),
    FERRY_LOGIN_RATE_LIMIT: "1000",
  };
  // The first server migrates the fresh database; the other processes start together after it.
  const first = await startFerryProcess({ ...env("server1"), FERRY_EMBEDDED_WORKER: "false" });
  cleanups.push(() => first.stop());
  const started = await Promise.allSettled([
    startFerryProcess({ ...env("server2"), FERRY_EMBEDDED_WORKER: "false" }),
    startFerryProcess(env("worker1"), ["worker"]),
    startFerryProcess(env("worker2"), ["worker"]),
  ]);
  // Stop whatever did start even when another failed, or the test run never ends.
  for (const result of started) if (result.status === "fulfilled") cleanups.push(() => result.value.stop());
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  const rest = started.map((result) => (result as PromiseFulfilledResult<FerryProcess>).value);
  servers = [first, rest[0]!];
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  cleanups.push(() => db.end());
  // One set of users, created through server 1; a token from either server works on both (shared JWT secret).
  const world = await bundleWorld(await remoteServer(first.url));
  const second = await remoteServer(rest[0]!.url);
  worlds = [world, { ...world, request: (body) => second.call("POST", "/api/v1/bundles", { token: world.delivery.token, body }) }];
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

function put(serverUrl: string, token: string, coordinates: string, content: Buffer) {
  return fetch(`${serverUrl}/api/v1/artifacts/${coordinates}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", ...BINARY },
    body: new Uint8Array(content),
  });
}

describe("two servers and two workers on one PostgreSQL, Redis and S3", () => {
  test("the same content uploaded through both servers at once is one blob and one object", async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const token = worlds[0]!.ci.token;
    const responses = await Promise.all([
      put(servers[0]!.url, token, "agent/1.0.0/agent-a.bin", content),
      put(servers[1]!.url, token, "agent/1.0.0/agent-b.bin", content),
      put(servers[0]!.url, token, "agent/1.0.0/agent-c.bin", content),
      put(servers[1]!.url, token, "agent/1.0.0/agent-d.bin", content),
    ]);
    for (const response of responses) assert.equal(response.status, 201, await response.text());

    const artifacts = await db.query(`SELECT sha256 FROM "Artifact" WHERE component = 'agent'`);
    assert.equal(artifacts.rowCount, 4);
    assert.ok(artifacts.rows.every((row) => row.sha256 === sha256));
    assert.equal((await db.query(`SELECT 1 FROM "Blob" WHERE sha256 = $1`, [sha256])).rowCount, 1);

    const client = testS3Client(s3Endpoint);
    try {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      const keys = (listed.Contents ?? []).map((object) => object.Key!);
      assert.equal(keys.filter((key) => key.includes(sha256)).length, 1, `objects: ${keys.join(", ")}`);
      assert.deepEqual(keys.filter((key) => key.includes("tmp/")), [], "no staged object left behind");
    } finally {
      client.destroy();
    }
    for (const server of servers) {
      const download = await fetch(`${server.url}/api/v1/artifacts/agent/1.0.0/agent-b.bin`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(download.status, 200);
      assert.equal(createHash("sha256").update(Buffer.from(await download.arrayBuffer())).digest("hex"), sha256);
    }
  });

  test("the same bundle requested through both servers at once is one bundle, built once by one worker", async () => {
    const [world] = worlds as [BundleWorld, BundleWorld];
    await world.upload("orders-api", "2.0.0", "orders-api-2.0.0.tar.gz", randomBytes(1024 * 1024), BINARY);
    await world.upload("redis", "7.2.5", "redis-7.2.5.tar.gz", "redis binaries", BINARY);
    await world.release("shop", "2.0.0", [
      { name: "orders-api", version: "2.0.0" },
      { name: "redis", version: "7.2.5" },
    ]);
    const site = await world.site("acme", "hq");
    const body = { site, release: { product: "shop", version: "2.0.0" } };
    const requests = await Promise.all([worlds[0]!.request(body), worlds[1]!.request(body), worlds[0]!.request(body), worlds[1]!.request(body)]);
    for (const response of requests) assert.ok(response.status === 202 || response.status === 200, response.text);
    const ids = new Set(requests.map((response) => response.body.id as string));
    assert.equal(ids.size, 1, `one bundle for one request, got ${[...ids].join(", ")}`);
    const [id] = [...ids] as [string];
    const ready = await world.waitReady(id, 60_000);

    assert.equal((await db.query(`SELECT 1 FROM "Bundle" WHERE "siteId" = $1`, [site])).rowCount, 1);
    const jobQuery = `SELECT status, attempts, "lockedBy" FROM "Job" WHERE type = 'bundle.build' AND payload->>'bundleId' = $1`;
    // The bundle is ready before its job is recorded as done: the worker finishes the job
    // after the handler returns.
    await until("the build job is finished", async () => (await db.query(jobQuery, [id])).rows.every((row) => row.status !== "running"), 10_000);
    const jobs = await db.query(jobQuery, [id]);
    assert.equal(jobs.rowCount, 1, JSON.stringify(jobs.rows));
    assert.equal(jobs.rows[0].status, "succeeded");
    assert.equal(jobs.rows[0].attempts, 1, "built exactly once");
    // Give the other worker time to (wrongly) pick it up again, then check nothing changed.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const again = await db.query(`SELECT attempts FROM "Job" WHERE type = 'bundle.build' AND payload->>'bundleId' = $1`, [id]);
    assert.equal(again.rows[0].attempts, 1);
    const bundle = await db.query(`SELECT sha256, status FROM "Bundle" WHERE id = $1`, [id]);
    assert.equal(bundle.rows[0].status, "ready");
    assert.equal(bundle.rows[0].sha256, ready.sha256);
  });

  test("agent heartbeats with one site token are accepted by either server", async () => {
    const [world] = worlds as [BundleWorld, BundleWorld];
    const created = await callApi(servers[0]!.url, "POST", "/api/v1/customers/acme/sites", {
      token: world.delivery.token,
      body: { name: "plant", environment: "production", platform: "vm", connectivity: "agent" },
    });
    assert.equal(created.status, 201, created.text);
    const agentToken = created.body.agentToken as string;
    assert.ok(agentToken);
    const beats = await Promise.all(
      [0, 1, 0, 1, 0, 1].map((index, n) =>
        callApi(servers[index]!.url, "POST", "/api/v1/agent/heartbeat?wait=0", { token: agentToken, body: { agentVersion: `1.0.${n}`, inventory: {} } }),
      ),
    );
    for (const beat of beats) assert.equal(beat.status, 204, beat.text);
    const site = await db.query(`SELECT "agentVersion", "agentLastSeenAt" FROM "Site" WHERE id = $1`, [created.body.id]);
    assert.match(site.rows[0].agentVersion, /^1\.0\.[0-5]$/);
    assert.ok(Date.now() - new Date(site.rows[0].agentLastSeenAt).getTime() < 60_000);
    const bad = await callApi(servers[1]!.url, "POST", "/api/v1/agent/heartbeat?wait=0", { token: `${agentToken}x`, body: { agentVersion: "1.0.0" } });
    assert.equal(bad.status, 401, bad.text);
  });
});
