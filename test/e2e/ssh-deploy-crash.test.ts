/**
 * SIGKILL of the process running an SSH deployment (issue 7). SSH deployments are
 * `deployment.ssh` jobs; here a `ferry server` without an embedded worker and two
 * `ferry worker` processes share one PostgreSQL database and a blob directory (in-process
 * job transport: workers poll the Job table, so a takeover follows the lease, 4 s here),
 * and deploy the gated hello service (test/support/gated-hello.ts) through a real sshd on
 * loopback. While the remote `ferry-agent apply` waits at the gate, the worker holding the
 * job is SIGKILLed; the remote apply outlives the lost connection. When the lease expires
 * the other worker takes the job over, either after the apply ended (it imports the report
 * the apply left) or while it still runs (it waits for it, then imports its report). The
 * deployment must end, the apply must run to its end once, and the server's record of the
 * site must match the site's state.json.
 * (The embedded default, one server running its own jobs, is in ssh-server-crash.test.ts.)
 * Needs root (sshd) and PostgreSQL (FERRY_TEST_DATABASE_URL).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createSite, publishHello, deploymentLogLines, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld } from "../support/bundles.js";
import { freshDatabase, remoteServer, sharedSecrets, type Cleanups } from "../support/cluster.js";
import { runCleanups } from "../support/cleanups.js";
import { Gate, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import type { TestServer, TestUser } from "../support/server.js";
import { startSshd, type TestSshd } from "../support/sshd.js";

const LEASE_MS = 4_000;
const cleanups: Cleanups = [];
const dir = mkdtempSync(path.join(tmpdir(), "ferry-ssh-crash-"));
const installRoot = path.join(dir, "opt");
const ferryDir = path.join(dir, "ferry");
const gate = new Gate(path.join(dir, "gate"), installRoot);
let sshd: TestSshd;
let env: Record<string, string>;
let workers: FerryProcess[] = [];
let clusterServer: FerryProcess;
let server: TestServer;
let operator: TestUser;
let siteId: string;
let db: pg.Client;

before(async () => {
  // Removing the gate directory also ends a gate step a failed test left waiting.
  cleanups.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));
  sshd = await startSshd();
  cleanups.push(() => sshd.close());
  const database = await freshDatabase(cleanups, "ferry_ssh_crash");
  env = {
    DATABASE_URL: database.url,
    FERRY_DATA_DIR: path.join(dir, "data"),
    FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir),
    FERRY_JOB_LEASE_MS: String(LEASE_MS),
    FERRY_LOGIN_RATE_LIMIT: "1000",
    ...sharedSecrets(),
  };
  const ferry = await startFerryProcess({ ...env, FERRY_EMBEDDED_WORKER: "false" });
  cleanups.push(() => ferry.stop());
  clusterServer = ferry;
  const started = await Promise.allSettled([startFerryProcess(env, ["worker"]), startFerryProcess(env, ["worker"])]);
  for (const result of started) if (result.status === "fulfilled") cleanups.push(() => result.value.stop());
  const failed = started.find((result) => result.status === "rejected");
  if (failed) throw failed.reason;
  workers = started.map((result) => (result as PromiseFulfilledResult<FerryProcess>).value);
  db = new pg.Client({ connectionString: database.url });
  await db.connect();
  cleanups.push(() => db.end());

  server = await remoteServer(ferry.url);
  const world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await publishHello(world, version);
  const site = await createSite(server, operator, "acme", {
    name: "ssh-crash-plant",
    connectivity: "ssh",
    variables: { INSTALL_ROOT: installRoot, GATE_DIR: gate.dir, FERRY_SSH_DIR: ferryDir },
    secretVariables: { HELLO_TOKEN: "tok-ssh-crash" },
    ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
  });
  siteId = site.id;
});

after(async () => {
  await replacing.catch(() => undefined);
  await runCleanups(cleanups);
});

async function createDeployment(version: string): Promise<string> {
  const created = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: siteId, release: { product: "hello-suite", version } } });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.body.transport, "ssh");
  return created.body.id as string;
}

const job = async (deploymentId: string) => (await db.query(`SELECT status, attempts, "lockedBy", "lastError" FROM "Job" WHERE id = $1`, [`deployment-${deploymentId}`])).rows[0];
const localState = () => {
  const file = path.join(ferryDir, "work", "state.json");
  return existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : null;
};
const logsOf = async (id: string) => (await deploymentLogLines(server, operator.token, id)).join("\n");
const workerOutput = () => workers.map((worker, i) => `--- worker ${i} (pid ${worker.child.pid}):\n${worker.output().slice(-3000)}`).join("\n");

let replacing: Promise<unknown> = Promise.resolve();

/**
 * SIGKILLs the worker holding the deployment's job (the remote apply waits at the gate) and
 * starts another in its place, in the background (the surviving worker takes the job over).
 */
async function killHolder(id: string): Promise<void> {
  await replacing;
  const holder = await job(id);
  assert.equal(holder.status, "running", JSON.stringify(holder));
  const victim = workers.find((worker) => holder.lockedBy.startsWith(`${hostname()}:${worker.child.pid}:`));
  assert.ok(victim, `the job is held by one of the workers: ${holder.lockedBy}`);
  victim.kill("SIGKILL");
  await victim.exited;
  workers = workers.filter((worker) => worker !== victim);
  replacing = startFerryProcess(env, ["worker"]).then((replacement) => {
    cleanups.push(() => replacement.stop());
    workers.push(replacement);
  });
}

/** The deployment ended succeeded, its job too, once; the site's state.json and the server agree; one apply ran to its end. */
async function assertConsistent(id: string, version: string, applied: string[]): Promise<any> {
  const done = await waitForStatus(server, operator.token, id, ["succeeded", "failed", "rolled_back", "cancelled"], 90_000);
  await until("the job ends", async () => !["queued", "running"].includes((await job(id)).status), 30_000);
  const finalJob = await job(id);
  const site = (await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token })).body;
  const context = `${JSON.stringify(done)}\njob ${JSON.stringify(finalJob)}\nsite ${JSON.stringify(site.installed)}\napplied ${gate.applied().join(",")}\nstate ${localState()?.release?.version}\n${await logsOf(id)}\n${workerOutput()}`;
  assert.equal(done.status, "succeeded", context);
  assert.equal(finalJob.status, "succeeded", context);
  assert.equal(localState()?.release?.version, version, context);
  assert.equal(site.installed?.version, version, context);
  assert.deepEqual(gate.applied(), applied, context);
  assert.ok(!existsSync(path.join(ferryDir, "work", "journal.json")), "no interrupted apply left");
  assert.ok(!existsSync(path.join(ferryDir, "reports", `${id}.vars.json`)), "the variables file (secrets) is removed from the site");
  return done;
}

describe("SIGKILL of the worker running an SSH deployment", () => {
  // The machine is shared: the next case runs without this cluster.
  after(async () => {
    await replacing.catch(() => undefined);
    await Promise.all([clusterServer, ...workers].map((process) => process?.stop()));
  });

  it("installs 1.0.0 (no crash) as the base", { timeout: 90_000 }, async () => {
    gate.open("1.0.0");
    const id = await createDeployment("1.0.0");
    await assertConsistent(id, "1.0.0", ["1.0.0"]);
  });

  it("the apply ends before the takeover: the other worker imports its report instead of applying again", { timeout: 120_000 }, async () => {
    const id = await createDeployment("1.1.0");
    await until("the remote apply reaches the gate", () => gate.reached("1.1.0"), 60_000, workerOutput);
    await killHolder(id);
    gate.open("1.1.0");
    await assertConsistent(id, "1.1.0", ["1.0.0", "1.1.0"]);
    assert.equal((await job(id)).attempts, 2);
    assert.match(await logsOf(id), /earlier attempt.*report/i);
  });

  it("the apply still runs at the takeover: the other worker waits for it, then imports its report", { timeout: 120_000 }, async () => {
    const id = await createDeployment("1.2.0");
    await until("the remote apply reaches the gate", () => gate.reached("1.2.0"), 60_000, workerOutput);
    await killHolder(id);
    await until("another worker takes the job over", async () => (await job(id)).attempts === 2, 60_000, workerOutput);
    // Read from the table: the log stream of a running deployment does not end.
    const logged = async () => (await db.query(`SELECT line FROM "DeploymentLog" WHERE "deploymentId" = $1`, [id])).rows.map((row) => row.line as string);
    await until("it finds the apply still running", async () => (await logged()).some((line) => /still applying/.test(line)), 30_000, workerOutput);
    gate.open("1.2.0");
    await assertConsistent(id, "1.2.0", ["1.0.0", "1.1.0", "1.2.0"]);
  });
});
