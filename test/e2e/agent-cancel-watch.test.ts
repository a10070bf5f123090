/**
 * A cancel reaching an agent in a step that prints nothing, on the default keep-alive
 * (FERRY_AGENT_STALL_MS 10 min: an empty events post every 15 s). A real `ferry server`
 * process and a real `ferry-agent run` process: the agent holds a watch on its deployment
 * (POST /agent/deployments/:id/watch), which the server answers the moment the deployment
 * is cancelled. Without the watch, the cancel would wait for the next keep-alive, up to
 * 15 s (deployment-stall.test.ts covers that path with short keep-alives).
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { deployHello, waitForStatus } from "../../server/deployments/deployments.fixtures.js";
import { startAgentProcess, type AgentProcess } from "../support/agent-process.js";
import { bundleWorld } from "../support/bundles.js";
import { remoteServer } from "../support/cluster.js";
import { gatedAgentSite, gatedWorkspace, writeGatedHelloCatalog } from "../support/gated-hello.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { until } from "../support/until.js";
import type { TestServer, TestUser } from "../support/server.js";

const { dir, installRoot, workdir, keyFile, gate } = gatedWorkspace("ferry-cancel-watch-");
let ferry: FerryProcess;
let server: TestServer;
let operator: TestUser;
let siteId: string;
let agentToken: string;
let agent: AgentProcess | undefined;

before(async () => {
  // FERRY_AGENT_STALL_MS is left at its default, so the keep-alive interval is 15 s.
  ferry = await startFerryProcess({ FERRY_DATA_DIR: path.join(dir, "data"), FERRY_CATALOG_DIR: writeGatedHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "200" });
  server = await remoteServer(ferry.url);
  const world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  ({ siteId, agentToken } = await gatedAgentSite(server, world, operator, { name: "watch-plant", versions: ["1.0.0", "1.1.0"], installRoot, gate, helloToken: "tok-watch-secret", keyFile }));
});

after(async () => {
  agent?.child.kill("SIGKILL");
  await ferry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("cancel through the agent's watch", () => {
  it("a cancel stops a silent step within seconds on the default 15 s keep-alive, and the apply is rolled back", { timeout: 120_000 }, async () => {
    agent = startAgentProcess({ server: ferry.url, token: agentToken, workdir, keyFile });
    gate.open("1.0.0");
    const installed = await deployHello(server, operator.token, siteId, "1.0.0");
    assert.equal((await waitForStatus(server, operator.token, installed, ["succeeded", "failed", "rolled_back"], 60_000)).status, "succeeded", agent.output());

    const id = await deployHello(server, operator.token, siteId, "1.1.0");
    await until("the apply reaches the gate", () => gate.reached("1.1.0"), 60_000, agent.output);
    // Past the first keep-alive's moment, so what stops the step is not a post that happened to be due.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const cancelled = await server.call("POST", `/api/v1/deployments/${id}/cancel`, { token: operator.token });
    assert.equal(cancelled.status, 200, cancelled.text);
    const heardIn = await until("the agent rolls the apply back", () => /"event":"apply","status":"rolled_back"/.test(agent!.output()), 60_000, agent.output);
    assert.ok(heardIn < 5_000, `the cancel took ${heardIn} ms to reach the agent (the keep-alive alone: up to 15 s)`);
    assert.match(agent.output(), /the server stopped the deployment: .*deployment_cancelled/);
    assert.match(agent.output(), /step \\"wait at the gate\\" failed: command was stopped: the server cancelled the deployment/);
    await until("the interrupted apply's journal is gone", () => !existsSync(path.join(workdir, "journal.json")), 30_000, agent.output);
    assert.equal(JSON.parse(readFileSync(path.join(workdir, "state.json"), "utf8")).release.version, "1.0.0", "the site stays on 1.0.0");
    assert.deepEqual(gate.applied().filter((version) => version === "1.1.0"), [], "the cancelled apply never ran its last step");
    assert.equal((await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token })).body.status, "cancelled");
  });
});
