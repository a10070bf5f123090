/**
 * The stall watchdog against a real `ferry server` process and real `ferry-agent run`
 * processes, with FERRY_AGENT_STALL_MS = 3 s (keep-alive every 750 ms). The gated hello
 * service (test/support/gated-hello.ts) holds the apply in a step that prints nothing.
 *  - A live agent in a silent step keeps the deployment's last contact fresh with
 *    keep-alives: never flagged.
 *  - An agent SIGKILLed in that step: the deployment is flagged stalled once (log line,
 *    site history, one `deployment.stalled` webhook, however many scans follow) and stays
 *    running; the restarted agent clears the flag and finishes it.
 *  - A deployment cancelled while its agent waits in that step: the answer to the next
 *    keep-alive stops the step, the apply is rolled back, and the agent polls on.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deployHello, deploymentLogLines, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { startAgentProcess, type AgentProcess } from "../support/agent-process.js";
import { bundleWorld } from "../support/bundles.js";
import { remoteServer } from "../support/cluster.js";
import { gatedAgentSite, gatedWorkspace, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import type { TestServer, TestUser } from "../support/server.js";

const STALL_MS = 3_000;
const { dir, installRoot, workdir, keyFile, gate } = gatedWorkspace("ferry-deploy-stall-");
let ferry: FerryProcess;
let server: TestServer;
let operator: TestUser;
let siteId: string;
let agentToken: string;
let hooks: { server: Server; received: Array<{ event: string; body: any }> };
const agents: AgentProcess[] = [];

before(async () => {
  const received: Array<{ event: string; body: any }> = [];
  const hookServer = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const body = JSON.parse(raw);
      received.push({ event: String(body.event), body });
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
  hooks = { server: hookServer, received };

  ferry = await startFerryProcess({
    FERRY_DATA_DIR: path.join(dir, "data"),
    FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir),
    FERRY_AGENT_RECHECK_MS: "200",
    FERRY_AGENT_STALL_MS: String(STALL_MS),
    FERRY_WEBHOOK_RETRY_BASE_MS: "100",
  });
  server = await remoteServer(ferry.url);
  const world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  const admin = await server.user(["admin"]);
  const hook = await server.call("POST", "/api/v1/webhooks", {
    token: admin.token,
    body: { url: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/ferry`, events: ["deployment.stalled", "deployment.finished"] },
  });
  assert.equal(hook.status, 201, hook.text);
  ({ siteId, agentToken } = await gatedAgentSite(server, world, operator, { name: "stall-plant", versions: ["1.0.0", "1.1.0", "1.2.0"], installRoot, gate, helloToken: "tok-stall-secret", keyFile }));
});

after(async () => {
  for (const agent of agents) agent.child.kill("SIGKILL");
  await ferry?.stop();
  await new Promise((resolve) => hooks?.server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

function startAgent(): AgentProcess {
  const agent = startAgentProcess({ server: ferry.url, token: agentToken, workdir, keyFile });
  agents.push(agent);
  return agent;
}

const createDeployment = (version: string) => deployHello(server, operator.token, siteId, version);

const deployment = async (id: string) => (await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token })).body;
const logLines = (id: string) => deploymentLogLines(server, operator.token, id);
const stalledHooks = (id: string) => hooks.received.filter((hook) => hook.event === "deployment.stalled" && hook.body?.data?.id === id);

describe("stalled agent deployments", () => {
  let agent: AgentProcess;

  it("a live agent in a step that prints nothing for over twice the stall time is never flagged", { timeout: 90_000 }, async () => {
    agent = startAgent();
    const id = await createDeployment("1.0.0");
    await until("the apply reaches the gate", () => gate.reached("1.0.0"), 60_000, agent.output);
    const watchedUntil = Date.now() + 2.5 * STALL_MS;
    while (Date.now() < watchedUntil) {
      const now = await deployment(id);
      assert.equal(now.status, "running");
      assert.equal(now.stalledAt, null, `flagged while the agent was alive: ${JSON.stringify(now)}`);
      // Keep-alives every 750 ms: the last contact is never older than the stall time.
      assert.ok(Date.now() - Date.parse(now.lastContactAt) < STALL_MS, `last contact ${now.lastContactAt}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    gate.open("1.0.0");
    const done = await waitForStatus(server, operator.token, id, ["succeeded", "failed", "rolled_back"], 60_000);
    assert.equal(done.status, "succeeded", agent.output());
    assert.equal(stalledHooks(id).length, 0);
  });

  it("an agent killed mid-step: flagged stalled once, still running; the restarted agent clears the flag and finishes", { timeout: 120_000 }, async () => {
    const id = await createDeployment("1.1.0");
    await until("the apply reaches the gate", () => gate.reached("1.1.0"), 60_000, agent.output);
    const killedAt = Date.now();
    await agent.kill();

    await until("the deployment is flagged stalled", async () => (await deployment(id)).stalledAt !== null, 30_000);
    const flagged = await deployment(id);
    assert.equal(flagged.status, "running", "flagged, not failed: the site may be half-way through the apply");
    assert.ok(Date.parse(flagged.stalledAt) - Date.parse(flagged.lastContactAt) >= STALL_MS, JSON.stringify(flagged));
    assert.ok(Date.parse(flagged.stalledAt) >= killedAt + STALL_MS - 1_000, "not flagged before the agent had been silent for the stall time");
    await until("the deployment.stalled webhook arrives", () => stalledHooks(id).length > 0, 15_000);
    // Several more scans (every 750 ms) while the agent stays away: still one notice.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    assert.equal(stalledHooks(id).length, 1, JSON.stringify(stalledHooks(id)));
    assert.equal(stalledHooks(id)[0]!.body.data.lastContactAt, flagged.lastContactAt);
    const site = (await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token })).body;
    assert.equal(site.history.filter((event: any) => event.kind === "deployment-stalled" && event.deploymentId === id).length, 1, JSON.stringify(site.history));

    gate.open("1.1.0");
    agent = startAgent();
    const done = await waitForStatus(server, operator.token, id, ["succeeded", "failed", "rolled_back"], 60_000);
    assert.equal(done.status, "succeeded", agent.output());
    assert.equal(done.stalledAt, null);
    // The log stream ends with the deployment, so its lines are read now.
    const lines = await logLines(id);
    const flaggedLine = lines.findIndex((line) => /^no word from the site's agent for \d+ s \(last contact .+\): it may have stopped/.test(line));
    const backLine = lines.findIndex((line) => /^the agent reported again \(\d+ s after the deployment was flagged stalled\)$/.test(line));
    assert.ok(flaggedLine >= 0 && backLine > flaggedLine, lines.join("\n"));
    assert.equal(stalledHooks(id).length, 1);
  });

  it("cancelled while the agent waits in a silent step: the next keep-alive's answer stops the step and rolls it back; the agent takes the next deployment", { timeout: 120_000 }, async () => {
    const id = await createDeployment("1.2.0");
    await until("the apply reaches the gate", () => gate.reached("1.2.0"), 60_000, agent.output);
    const cancelled = await server.call("POST", `/api/v1/deployments/${id}/cancel`, { token: operator.token });
    assert.equal(cancelled.status, 200, cancelled.text);
    const heardIn = await until("the agent rolls the apply back", () => /"event":"apply","status":"rolled_back"/.test(agent.output()), 60_000, agent.output);
    // Keep-alives every 750 ms here (a quarter of the stall time, 15 s at most by default).
    assert.ok(heardIn < 20_000, `the cancel took ${heardIn} ms to reach the agent`);
    assert.match(agent.output(), /step \\"wait at the gate\\" failed: command was stopped: the server cancelled the deployment/);
    await until("the interrupted apply's journal is gone", () => !existsSync(path.join(workdir, "journal.json")), 30_000, agent.output);
    assert.equal(JSON.parse(readFileSync(path.join(workdir, "state.json"), "utf8")).release.version, "1.1.0", "the site stays on 1.1.0");
    assert.ok(!existsSync(path.join(installRoot, "hello/releases/1.2.0")), "the unpacked 1.2.0 was rolled back");
    assert.deepEqual(gate.applied().filter((version) => version === "1.2.0"), [], "the cancelled apply never ran its last step");
    assert.equal((await deployment(id)).status, "cancelled");

    gate.open("1.2.0");
    const next = await createDeployment("1.2.0");
    const done = await waitForStatus(server, operator.token, next, ["succeeded", "failed", "rolled_back"], 60_000);
    assert.equal(done.status, "succeeded", agent.output());
    assert.equal(agent.child.exitCode, null, "the agent polls on");
  });
});
