/**
 * Crashes in the middle of an online-agent deployment (issue 7). A `ferry server` process
 * (embedded profile) and a `ferry-agent run` process deploy the gated hello service
 * (test/support/gated-hello.ts), and one of them is SIGKILLed while the apply waits at the
 * gate:
 *  - the server: the agent finishes while it is down and delivers its result when it is
 *    back; the deployment ends `succeeded`, the site shows the release, and the agent,
 *    polling on, is not handed it again;
 *  - the agent: restarted, its journal rolls the interrupted apply back and replays it;
 *    the server learns the outcome;
 *  - both, after the apply has ended but before the server heard of it: the restarted
 *    agent reports that apply's result instead of applying the bundle a second time, and
 *    the steps whose events died with the first agent are settled (from the kept report,
 *    or, when the report was lost too, from the apply log in the work directory).
 * In every case: one apply of each release ran to its end, the site's state.json and the
 * server agree, and no journal is left.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deployHello, deploymentLogLines, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { startAgentProcess, type AgentProcess as Agent } from "../support/agent-process.js";
import { bundleWorld } from "../support/bundles.js";
import { remoteServer } from "../support/cluster.js";
import { gatedAgentSite, gatedWorkspace, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { freePort, startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import type { TestServer, TestUser } from "../support/server.js";

const { dir, installRoot, workdir, keyFile, gate } = gatedWorkspace("ferry-deploy-crash-");
let serverEnv: Record<string, string>;
let ferry: FerryProcess;
let server: TestServer;
let operator: TestUser;
let siteId: string;
let agentToken: string;
const agents: Agent[] = [];

before(async () => {
  const dataDir = path.join(dir, "data");
  serverEnv = { FERRY_DATA_DIR: dataDir, PORT: String(await freePort()), FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "200", FERRY_LOGIN_RATE_LIMIT: "1000" };
  ferry = await startFerryProcess(serverEnv);
  server = await remoteServer(ferry.url);
  const world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  ({ siteId, agentToken } = await gatedAgentSite(server, world, operator, { name: "crash-plant", versions: ["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"], installRoot, gate, helloToken: "tok-crash-secret", keyFile }));
});

after(async () => {
  for (const agent of agents) agent.child.kill("SIGKILL");
  await ferry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** `ferry-agent run` (no --once: it polls on after a deployment, as in production). */
function startAgent(): Agent {
  const agent = startAgentProcess({ server: ferry.url, token: agentToken, workdir, keyFile });
  agents.push(agent);
  return agent;
}

const createDeployment = (version: string) => deployHello(server, operator.token, siteId, version);

async function restartServer(): Promise<void> {
  ferry = await startFerryProcess(serverEnv);
}

const localState = () => (existsSync(path.join(workdir, "state.json")) ? JSON.parse(readFileSync(path.join(workdir, "state.json"), "utf8")) : null);
const siteView = async () => (await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token })).body;

/** The site, the server and the work directory agree on `version`; one apply of it ran to the end. */
async function assertConsistent(deploymentId: string, version: string, agent: Agent): Promise<any> {
  const done = await waitForStatus(server, operator.token, deploymentId, ["succeeded", "failed", "rolled_back", "cancelled"], 150_000);
  const logs = async () => (await deploymentLogLines(server, operator.token, deploymentId)).join("\n");
  assert.equal(done.status, "succeeded", `${JSON.stringify(done)}\n${await logs()}\nagent:\n${agent.output().slice(-4000)}`);
  assert.equal(localState()?.release?.version, version, "the site's state.json");
  const site = await siteView();
  assert.equal(site.installed?.version ?? site.installedVersion, version, JSON.stringify(site));
  assert.equal(readFileSync(path.join(installRoot, "hello/releases", version, "VERSION"), "utf8"), `${version}\n`);
  assert.equal(gate.applied().filter((v) => v === version).length, 1, `applies of ${version} that ran to the end: ${gate.applied().join(", ")}`);
  assert.ok(!existsSync(path.join(workdir, "journal.json")), "no interrupted apply left in the journal");
  // Every step of the pipeline, ended: steps whose events were lost with a killed process are settled from the report.
  const steps = [`stage hello ${version}`, "unpack hello", "render hello.conf", "wait at the gate", "record the apply"];
  assert.deepEqual(done.steps.map((step: any) => `${step.name}: ${step.status}`), steps.map((name) => `${name}: succeeded`));
  return done;
}

/**
 * The agent polls on (heartbeats held 2 s) and is not handed the deployment again. Absence
 * is judged after a few heartbeat rounds; the heartbeat route writes last-seen times too
 * coarsely to count rounds on the server.
 */
async function assertNotHandedOutAgain(deploymentId: string, agent: Agent): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 4_500));
  assert.equal(agent.child.exitCode, null, agent.output());
  assert.equal((agent.output().match(new RegExp(`deployment ${deploymentId}: `, "g")) ?? []).length, 1, `handed out once:\n${agent.output()}`);
  assert.equal((await server.call("GET", `/api/v1/deployments/${deploymentId}`, { token: operator.token })).body.status, "succeeded");
}

describe("crashes in the middle of an online-agent deployment", () => {
  let agent: Agent;

  it("installs 1.0.0 (no crash) as the base", { timeout: 300_000 }, async () => {
    gate.open("1.0.0");
    const id = await createDeployment("1.0.0");
    agent = startAgent();
    await assertConsistent(id, "1.0.0", agent);
  });

  it("server SIGKILLed while the agent applies: the agent's result arrives after the restart", { timeout: 300_000 }, async () => {
    const id = await createDeployment("1.1.0");
    await until("the apply reaches the gate", () => gate.reached("1.1.0"), 150_000, agent.output);
    await until("the server shows the deployment running", async () => (await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token })).body.status === "running");
    ferry.kill("SIGKILL");
    await ferry.exited;
    gate.open("1.1.0");
    // The apply ends while the server is down: its final post waits for the server.
    await until("the agent commits 1.1.0", () => localState()?.release?.version === "1.1.0", 150_000, agent.output);
    await restartServer();
    await assertConsistent(id, "1.1.0", agent);
    await assertNotHandedOutAgain(id, agent);
  });

  it("agent SIGKILLed mid-apply and restarted: the journal rolls back, the apply is replayed, the server learns the outcome", { timeout: 300_000 }, async () => {
    const id = await createDeployment("1.2.0");
    await until("the apply reaches the gate", () => gate.reached("1.2.0"), 150_000, agent.output);
    assert.ok(existsSync(path.join(workdir, "journal.json")), "the apply in progress is journaled");
    await agent.kill();
    gate.open("1.2.0");
    agent = startAgent();
    const done = await assertConsistent(id, "1.2.0", agent);
    const logs = await deploymentLogLines(server, operator.token, done.id);
    assert.ok(logs.some((line) => /"event":"recovery","status":"rolled_back"/.test(line)), `the recovery reached the server:\n${logs.join("\n")}`);
    await assertNotHandedOutAgain(id, agent);
  });

  /**
   * Both processes killed once the apply has ended and the agent has kept its report (the
   * server was down, so the result was not delivered). With `reportLost`, the record is put
   * back as it was before the report was kept: the agent killed between committing
   * state.json and writing the report.
   */
  async function killBothAfterApply(version: string, reportLost: boolean): Promise<string[]> {
    const id = await createDeployment(version);
    await until("the apply reaches the gate", () => gate.reached(version), 150_000, agent.output);
    ferry.kill("SIGKILL");
    await ferry.exited;
    gate.open(version);
    const record = path.join(workdir, "deployments", `${id}.json`);
    await until("the agent keeps the apply's report", () => existsSync(record) && JSON.parse(readFileSync(record, "utf8")).report !== null, 150_000, agent.output);
    assert.equal(localState()?.release?.version, version);
    await agent.kill();
    if (reportLost) writeFileSync(record, JSON.stringify({ ...JSON.parse(readFileSync(record, "utf8")), report: null }));
    await restartServer();
    agent = startAgent();
    await assertConsistent(id, version, agent);
    assert.match(agent.output(), /already applied here \(succeeded\); reporting that result instead of applying again/);
    await assertNotHandedOutAgain(id, agent);
    return deploymentLogLines(server, operator.token, id);
  }

  it("both SIGKILLed after the apply ended but before the server heard: the restarted agent reports it, without a second apply", { timeout: 300_000 }, async () => {
    const logs = await killBothAfterApply("1.3.0", false);
    // The events of the gate's end and of the last step died with the first agent: the report settled them.
    assert.ok(logs.some((line) => /step\(s\) settled from the agent's report.*record the apply succeeded/.test(line)), logs.join("\n"));
  });

  it("the same with the report lost too: the restarted agent sends the steps from its apply log", { timeout: 300_000 }, async () => {
    const logs = await killBothAfterApply("1.4.0", true);
    assert.ok(!logs.some((line) => /settled from the agent's report/.test(line)), logs.join("\n"));
  });
});
