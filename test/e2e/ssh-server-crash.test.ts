/**
 * SIGKILL of a server running its own SSH deployment (issue 7), on the embedded default:
 * one `ferry server` on PGlite with its embedded job worker deploys the gated hello
 * service (test/support/gated-hello.ts) through a real sshd on loopback. While the remote
 * `ferry-agent apply` waits at the gate the server is SIGKILLed; the apply outlives the
 * lost connection and ends while the server is down. Restarted, the server takes its job
 * up again once the lease expired (4 s here) and imports the report the apply left instead
 * of applying a second time; the deployment ends `succeeded`, consistent with the site.
 * (A worker of several killed mid-apply: ssh-deploy-crash.test.ts.) Needs root (sshd).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createSite, publishHello, deploymentLogLines, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld } from "../support/bundles.js";
import { remoteServer, type Cleanups } from "../support/cluster.js";
import { runCleanups } from "../support/cleanups.js";
import { Gate, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { freePort, startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import type { TestServer } from "../support/server.js";
import { startSshd, type TestSshd } from "../support/sshd.js";

const LEASE_MS = 4_000;
const cleanups: Cleanups = [];
const dir = mkdtempSync(path.join(tmpdir(), "ferry-ssh-server-crash-"));
let sshd: TestSshd;

before(async () => {
  // Removing the gate directory also ends a gate step a failed test left waiting.
  cleanups.push(() => rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }));
  sshd = await startSshd();
  cleanups.push(() => sshd.close());
});

after(() => runCleanups(cleanups));

describe("SIGKILL of a server running its own SSH deployment (embedded worker, PGlite)", () => {
  const installRoot2 = path.join(dir, "opt-embedded");
  const ferryDir2 = path.join(dir, "ferry-embedded");
  const gate2 = new Gate(path.join(dir, "gate-embedded"), installRoot2);
  let serverEnv: Record<string, string>;
  let ferry: FerryProcess;
  let api: TestServer;
  let admin: string;
  let site: string;

  before(async () => {
    serverEnv = { FERRY_DATA_DIR: path.join(dir, "data-embedded"), PORT: String(await freePort()), FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir), FERRY_JOB_LEASE_MS: String(LEASE_MS), FERRY_LOGIN_RATE_LIMIT: "1000" };
    ferry = await startFerryProcess(serverEnv);
    cleanups.push(() => ferry.stop());
    api = await remoteServer(ferry.url);
    admin = api.admin.token;
    await publishHello(await bundleWorld(api), "1.0.0");
    site = (
      await createSite(api, await api.user(["operator"]), "acme", {
        name: "ssh-embedded-plant",
        connectivity: "ssh",
        variables: { INSTALL_ROOT: installRoot2, GATE_DIR: gate2.dir, FERRY_SSH_DIR: ferryDir2 },
        secretVariables: { HELLO_TOKEN: "tok-ssh-crash" },
        ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
      })
    ).id;
  });

  it("restarted, the server imports the report of the apply that ended while it was down", { timeout: 120_000 }, async () => {
    const created = await api.call("POST", "/api/v1/deployments", { token: admin, body: { site, release: { product: "hello-suite", version: "1.0.0" } } });
    assert.equal(created.status, 202, created.text);
    const id = created.body.id as string;
    await until("the remote apply reaches the gate", () => gate2.reached("1.0.0"), 60_000, () => ferry.output());
    ferry.kill("SIGKILL");
    await ferry.exited;
    gate2.open("1.0.0");
    const remoteState = () => (existsSync(path.join(ferryDir2, "work", "state.json")) ? JSON.parse(readFileSync(path.join(ferryDir2, "work", "state.json"), "utf8")) : null);
    await until("the remote apply ends while the server is down", () => remoteState()?.release?.version === "1.0.0" && existsSync(path.join(ferryDir2, "reports", `${id}.report.json`)), 60_000);
    ferry = await startFerryProcess(serverEnv);
    cleanups.push(() => ferry.stop());

    const done = await waitForStatus(api, admin, id, ["succeeded", "failed", "rolled_back", "cancelled"], 90_000);
    const logs = (await deploymentLogLines(api, admin, id)).join("\n");
    assert.equal(done.status, "succeeded", `${JSON.stringify(done)}\n${logs}\n${ferry.output().slice(-3000)}`);
    assert.match(logs, /earlier attempt.*report/i);
    const jobRow = (await api.call("GET", `/api/v1/jobs/deployment-${id}`, { token: admin })).body;
    assert.equal(jobRow.status, "succeeded", JSON.stringify(jobRow));
    assert.equal(jobRow.attempts, 2, JSON.stringify(jobRow));
    assert.equal((await api.call("GET", `/api/v1/sites/${site}`, { token: admin })).body.installed?.version, "1.0.0");
    assert.deepEqual(gate2.applied(), ["1.0.0"]);
    assert.ok(!existsSync(path.join(ferryDir2, "work", "journal.json")));
  });
});
