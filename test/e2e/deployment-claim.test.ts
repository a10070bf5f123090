/**
 * A deployment is claimed by one process (issue 7). Two `ferry server` processes without
 * embedded workers and two `ferry worker` processes share one PostgreSQL database, Redis
 * (BullMQ, own prefix) and a blob directory:
 *  - agent sites: heartbeats racing through both servers from two agent processes that
 *    share one site token hand the queued deployment to exactly one of them; only that
 *    agent (after a restart: same agent id) is given it again while it runs; its events
 *    may go through either server; once it ended, nobody is given it;
 *  - SSH sites: deployments requested through both servers at once make one deployment,
 *    run by exactly one worker, applied once at the site (a real sshd on loopback).
 * Needs root (sshd), PostgreSQL (FERRY_TEST_DATABASE_URL) and Redis (FERRY_TEST_REDIS_URL).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createSite, publishHello, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld, type BundleWorld } from "../support/bundles.js";
import { callApi, freshDatabase, freshQueuePrefix, REDIS_URL, remoteServer, sharedSecrets, type Cleanups } from "../support/cluster.js";
import { Gate, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import type { TestUser } from "../support/server.js";
import { startSshd, type TestSshd } from "../support/sshd.js";

const cleanups: Cleanups = [];
const dir = mkdtempSync(path.join(tmpdir(), "ferry-claim-"));
const installRoot = path.join(dir, "opt");
const gate = new Gate(path.join(dir, "gate"), installRoot);
let sshd: TestSshd;
let servers: FerryProcess[] = [];
let workers: FerryProcess[] = [];
let world: BundleWorld;
let operator: TestUser;
let db: pg.Client;

before(async () => {
  cleanups.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));
  sshd = await startSshd();
  cleanups.push(() => sshd.close());
  const database = await freshDatabase(cleanups, "ferry_claim");
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL,
    FERRY_QUEUE_PREFIX: freshQueuePrefix(cleanups),
    FERRY_DATA_DIR: path.join(dir, "data"),
    FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir),
    FERRY_AGENT_RECHECK_MS: "200",
    FERRY_LOGIN_RATE_LIMIT: "1000",
    ...sharedSecrets(),
  };
  // The first server migrates the fresh database; the other processes start together after it.
  const first = await startFerryProcess({ ...env, FERRY_EMBEDDED_WORKER: "false" });
  cleanups.push(() => first.stop());
  const started = await Promise.allSettled([
    startFerryProcess({ ...env, FERRY_EMBEDDED_WORKER: "false" }),
    startFerryProcess(env, ["worker"]),
    startFerryProcess(env, ["worker"]),
  ]);
  for (const result of started) if (result.status === "fulfilled") cleanups.push(() => result.value.stop());
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  const [second, ...rest] = started.map((result) => (result as PromiseFulfilledResult<FerryProcess>).value);
  servers = [first, second!];
  workers = rest;
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  cleanups.push(() => db.end());
  world = await bundleWorld(await remoteServer(first.url));
  operator = await (await remoteServer(first.url)).user(["operator"]);
  for (const version of ["1.0.0", "1.1.0"]) {
    await publishHello(world, version);
    gate.open(version);
  }
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

const call = (server: number, method: string, urlPath: string, opts: Parameters<typeof callApi>[3] = {}) => callApi(servers[server]!.url, method, urlPath, { token: operator.token, ...opts });

async function waitForBundle(id: string): Promise<void> {
  for (const deadline = Date.now() + 90_000; ; ) {
    const bundle = await call(0, "GET", `/api/v1/bundles/${id}`);
    if (bundle.body.status === "ready") return;
    assert.ok(bundle.body.status !== "failed" && Date.now() < deadline, bundle.text);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("a deployment is claimed by one process", () => {
  it("agent site: racing heartbeats through both servers hand the deployment to exactly one agent", { timeout: 90_000 }, async () => {
    const site = await createSite(await remoteServer(servers[0]!.url), operator, "acme", {
      name: "agent-plant",
      connectivity: "agent",
      variables: { INSTALL_ROOT: installRoot, GATE_DIR: gate.dir },
      secretVariables: { HELLO_TOKEN: "tok-claim" },
    });
    const created = await call(1, "POST", "/api/v1/deployments", { body: { site: site.id, release: { product: "hello-suite", version: "1.0.0" } } });
    assert.equal(created.status, 202, created.text);
    const deploymentId = created.body.id as string;
    await waitForBundle(created.body.bundle);

    const heartbeat = (server: number, agentId: string) =>
      callApi(servers[server]!.url, "POST", "/api/v1/agent/heartbeat?wait=0", { token: site.agentToken, body: { agentVersion: "0.1.0", agentId, inventory: {} } });
    // Two agent processes sharing the site token, each heartbeating through both servers, all at once.
    const beats = await Promise.all(Array.from({ length: 12 }, (_, n) => heartbeat(n % 2, n % 4 < 2 ? "agent-a" : "agent-b")));
    for (const beat of beats) assert.ok(beat.status === 200 || beat.status === 204, `${beat.status} ${beat.text}`);
    const handed = beats.map((beat, n) => ({ beat, agentId: n % 4 < 2 ? "agent-a" : "agent-b" })).filter(({ beat }) => beat.status === 200);
    assert.ok(handed.length >= 1, "somebody got it");
    const winners = new Set(handed.map(({ agentId }) => agentId));
    assert.equal(winners.size, 1, `handed to one agent, not ${[...winners].join(" and ")}`);
    for (const { beat } of handed) assert.equal(beat.body.action.deploymentId, deploymentId);
    const [winner] = [...winners] as [string];
    const loser = winner === "agent-a" ? "agent-b" : "agent-a";
    const row = (await db.query(`SELECT status, "claimedBy" FROM "Deployment" WHERE id = $1`, [deploymentId])).rows[0];
    assert.equal(row.status, "running");
    assert.equal(row.claimedBy, `site:${site.id}:${winner}`);

    // While it runs, the claimer (say, restarted) is given it again through either server; the other agent never is.
    for (const server of [0, 1]) {
      assert.equal((await heartbeat(server, winner)).body?.action?.deploymentId, deploymentId);
      assert.equal((await heartbeat(server, loser)).status, 204);
    }
    // Progress and the end through either server, as an agent behind a load balancer sends them.
    const events = (server: number, body: unknown) => callApi(servers[server]!.url, "POST", `/api/v1/agent/deployments/${deploymentId}/events`, { token: site.agentToken, body });
    assert.equal((await events(0, { status: "running", events: [{ type: "log", stream: "agent", line: "applying" }] })).status, 200);
    assert.equal((await events(1, { status: "succeeded", events: [] })).status, 200);
    assert.equal((await waitForStatus(await remoteServer(servers[0]!.url), operator.token, deploymentId, ["succeeded"], 10_000)).status, "succeeded");
    for (const server of [0, 1]) for (const agentId of [winner, loser]) assert.equal((await heartbeat(server, agentId)).status, 204, "an ended deployment is given to nobody");
  });

  it("ssh site: requested through both servers at once, one deployment, run by exactly one worker, applied once", { timeout: 120_000 }, async () => {
    const ferryDir = path.join(dir, "ferry");
    const site = await createSite(await remoteServer(servers[0]!.url), operator, "acme", {
      name: "ssh-plant",
      connectivity: "ssh",
      variables: { INSTALL_ROOT: installRoot, GATE_DIR: gate.dir, FERRY_SSH_DIR: ferryDir },
      secretVariables: { HELLO_TOKEN: "tok-claim" },
      ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
    });
    const body = { site: site.id, release: { product: "hello-suite", version: "1.1.0" } };
    const requests = await Promise.all([call(0, "POST", "/api/v1/deployments", { body }), call(1, "POST", "/api/v1/deployments", { body }), call(0, "POST", "/api/v1/deployments", { body }), call(1, "POST", "/api/v1/deployments", { body })]);
    const accepted = requests.filter((response) => response.status === 202);
    assert.equal(accepted.length, 1, requests.map((response) => `${response.status} ${response.text}`).join("\n"));
    for (const response of requests.filter((r) => r.status !== 202)) {
      assert.equal(response.status, 409, response.text);
      assert.equal(response.body.error.code, "deployment_in_progress");
    }
    const deploymentId = accepted[0]!.body.id as string;
    const done = await waitForStatus(await remoteServer(servers[1]!.url), operator.token, deploymentId, ["succeeded", "failed", "rolled_back", "cancelled"], 90_000);
    assert.equal(done.status, "succeeded", JSON.stringify(done));
    // Give the other worker time to (wrongly) pick the job up again, then check nothing changed.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const jobs = (await db.query(`SELECT status, attempts, "lockedBy" FROM "Job" WHERE type = 'deployment.ssh' AND payload->>'deploymentId' = $1`, [deploymentId])).rows;
    assert.equal(jobs.length, 1, JSON.stringify(jobs));
    assert.equal(jobs[0].status, "succeeded");
    assert.equal(jobs[0].attempts, 1, "run exactly once");
    assert.ok(workers.some((worker) => jobs[0].lockedBy.startsWith(`${hostname()}:${worker.child.pid}:`)), `run by a worker: ${jobs[0].lockedBy}`);
    assert.equal((await db.query(`SELECT 1 FROM "Deployment" WHERE "siteId" = $1`, [site.id])).rowCount, 1);
    const runs = (await db.query(`SELECT line FROM "DeploymentLog" WHERE "deploymentId" = $1 AND line LIKE 'running: %'`, [deploymentId])).rowCount;
    assert.equal(runs, 1, "the remote apply was started once");
    assert.deepEqual(gate.applied().filter((version) => version === "1.1.0"), ["1.1.0"]);
    const state = JSON.parse(readFileSync(path.join(ferryDir, "work", "state.json"), "utf8"));
    assert.equal(state.history.filter((entry: { release: { version: string } }) => entry.release.version === "1.1.0").length, 1);
    assert.ok(!existsSync(path.join(ferryDir, "work", "journal.json")));
  });
});
