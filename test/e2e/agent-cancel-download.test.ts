/**
 * Cancelling a deployment while the agent is still downloading its bundle: the real server
 * in this process with FERRY_AGENT_STALL_MS = 2 s (keep-alive every 500 ms), and
 * `ferry-agent run` as its own process reaching the server through a pass-through proxy
 * that, while told to, sends the first KiB of a bundle download and then holds it.
 *  - A cancel mid-download: the 409 (to the agent's watch, or to a keep-alive) makes the
 *    agent abort the request in flight; it sends nothing more about that deployment,
 *    applies nothing, keeps only the `.partial` file, and takes the next deployment of the
 *    same bundle (resuming it with Range).
 *  - An agent stop (SIGTERM) mid-download aborts the request in flight too.
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createSite, publishHello, waitForStatus, writeHelloCatalog } from "../../server/deployments/deployments.fixtures.js";
import { startAgentProcess, type AgentProcess } from "../support/agent-process.js";
import { bundleWorld } from "../support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../support/server.js";
import { until } from "../support/until.js";

const HELD_BYTES = 1_024;
const dir = mkdtempSync(path.join(tmpdir(), "ferry-agent-cancel-download-"));
const installRoot = path.join(dir, "opt");
const workdir = path.join(dir, "work");
const keyFile = path.join(dir, "signing-key.pem");
let server: TestServer;
let operator: TestUser;
let siteId: string;
let agentToken: string;
let proxy: http.Server;
let proxyUrl: string;
const agents: AgentProcess[] = [];

/** What the proxy saw: bundle downloads (held or not, and whether the agent hung up on a held one), and event posts and watches. */
const seen = {
  hold: false,
  downloads: [] as Array<{ range: string | undefined; status: number; held: boolean; abortedByAgent: boolean }>,
  posts: [] as Array<{ deploymentId: string; route: string; status: number; sentAt: number; answeredAt: number }>,
};

before(async () => {
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "200", FERRY_AGENT_STALL_MS: "2000" } });
  const world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  for (const version of ["1.0.0", "1.1.0"]) await publishHello(world, version);
  const site = await createSite(server, operator, "acme", {
    name: "cancel-plant",
    connectivity: "agent",
    variables: { INSTALL_ROOT: installRoot },
    secretVariables: { HELLO_TOKEN: "tok-cancel-secret" },
  });
  siteId = site.id;
  agentToken = site.agentToken!;
  writeFileSync(keyFile, (await server.call("GET", "/api/v1/signing-key")).text);

  proxy = http.createServer((req, res) => {
    const sentAt = Date.now();
    const upstream = http.request(new URL(req.url!, server.url), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode!, answer.headers);
      const post = /\/agent\/deployments\/([^/]+)\/(events|watch)/.exec(req.url!);
      if (post) seen.posts.push({ deploymentId: post[1]!, route: post[2]!, status: answer.statusCode!, sentAt, answeredAt: Date.now() });
      if (!/\/agent\/bundles\/[^/]+\/download/.test(req.url!)) return void answer.pipe(res);
      const download = { range: req.headers.range, status: answer.statusCode!, held: seen.hold, abortedByAgent: false };
      seen.downloads.push(download);
      if (!download.held) return void answer.pipe(res);
      // A slow link: the first KiB, then nothing until the agent hangs up.
      let sent = 0;
      answer.on("data", (chunk: Buffer) => {
        if (sent >= HELD_BYTES) return;
        const part = chunk.subarray(0, HELD_BYTES - sent);
        res.write(part);
        sent += part.length;
        if (sent >= HELD_BYTES) answer.pause();
      });
      res.on("close", () => {
        if (!res.writableFinished) download.abortedByAgent = true;
        answer.destroy();
      });
    });
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

after(async () => {
  for (const agent of agents) agent.child.kill("SIGKILL");
  proxy?.closeAllConnections();
  await new Promise((resolve) => proxy?.close(resolve));
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

function startAgent(): AgentProcess {
  const agent = startAgentProcess({ server: proxyUrl, token: agentToken, workdir, keyFile });
  agents.push(agent);
  return agent;
}

async function createDeployment(version: string): Promise<{ id: string; bundle: string }> {
  const created = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: siteId, release: { product: "hello-suite", version } } });
  assert.equal(created.status, 202, created.text);
  return created.body;
}

const deployment = async (id: string) => (await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token })).body;
const downloads = () => (existsSync(path.join(workdir, "downloads")) ? readdirSync(path.join(workdir, "downloads")) : []);
const partialSize = () => {
  const partial = downloads().find((file) => file.endsWith(".tar.partial"));
  return partial ? statSync(path.join(workdir, "downloads", partial)).size : 0;
};

describe("a deployment cancelled while the agent downloads its bundle", () => {
  it("aborts the download, applies and reports nothing more, and the agent takes the next deployment", { timeout: 60_000 }, async () => {
    seen.hold = true;
    const agent = startAgent();
    const cancelled = await createDeployment("1.0.0");
    await until("the agent is held in the middle of the download", () => partialSize() === HELD_BYTES, 30_000, agent.output);
    const held = seen.downloads.at(-1)!;
    assert.equal(held.held, true);

    const cancelledAt = Date.now();
    const cancel = await server.call("POST", `/api/v1/deployments/${cancelled.id}/cancel`, { token: operator.token });
    assert.equal(cancel.status, 200, cancel.text);
    // The watch is answered at once (and keep-alives go out every 500 ms): the request in flight is aborted at once.
    const took = await until("the agent hangs up the held download", () => held.abortedByAgent, 5_000, agent.output);
    assert.ok(took < 3_000, `the download was aborted ${took} ms after the cancel`);
    await until("the agent says it abandoned the download", () => /download abandoned/.test(agent.output()), 5_000, agent.output);
    assert.match(agent.output(), new RegExp(`deployment ${cancelled.id}: .*nothing was applied, back to polling`));

    // After the 409 the agent sends nothing more about that deployment (no final status, no log
    // lines, no watch). A request it sent while the 409 was on its way through the proxy is
    // not "after": 250 ms of slack.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const posts = seen.posts.filter((post) => post.deploymentId === cancelled.id);
    const first409 = posts.filter((post) => post.status === 409).sort((a, b) => a.answeredAt - b.answeredAt)[0];
    assert.ok(first409 && first409.answeredAt >= cancelledAt, JSON.stringify(posts));
    const after409 = posts.filter((post) => post.sentAt > first409.answeredAt + 250);
    assert.deepEqual(after409, [], `sent after the 409: ${JSON.stringify(posts)}`);
    assert.ok(posts.some((post) => post.route === "watch"), "the agent watched its deployment");

    // Nothing applied, nothing complete on disk: only the partial file, as a resume point.
    const ended = await deployment(cancelled.id);
    assert.equal(ended.status, "cancelled", JSON.stringify(ended));
    assert.equal(existsSync(path.join(installRoot, "hello")), false);
    assert.equal(downloads().filter((file) => /^[0-9a-f]{64}\.tar$/.test(file)).length, 0, downloads().join(", "));
    assert.equal(partialSize(), HELD_BYTES);
    assert.equal(agent.child.exitCode, null, "the agent keeps running");

    // The next deployment of the same bundle: resumed from the partial file, verified, applied.
    seen.hold = false;
    const next = await createDeployment("1.0.0");
    assert.equal(next.bundle, cancelled.bundle, "the same release for the same site reuses the bundle");
    const done = await waitForStatus(server, operator.token, next.id, ["succeeded", "failed", "rolled_back", "cancelled"], 30_000);
    assert.equal(done.status, "succeeded", agent.output());
    assert.match(seen.downloads.at(-1)!.range ?? "", new RegExp(`^bytes=${HELD_BYTES}-$`));
    assert.match(agent.output(), new RegExp(`resuming bundle ${next.bundle} at byte ${HELD_BYTES} of`));
    assert.match(agent.output(), /sha256 verified/);
    assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.0.0/VERSION"), "utf8"), "1.0.0\n");
    assert.equal((await deployment(cancelled.id)).status, "cancelled");
    assert.deepEqual(downloads().filter((file) => file.endsWith(".partial")), []);
  });

  it("an agent stopped mid-download aborts the request in flight and exits cleanly", { timeout: 60_000 }, async () => {
    seen.hold = true;
    const agent = agents.at(-1)!;
    const running = await createDeployment("1.1.0");
    await until("the agent is held in the middle of the download", () => partialSize() === HELD_BYTES, 30_000, agent.output);
    const held = seen.downloads.at(-1)!;
    assert.equal(held.held, true);
    agent.child.kill("SIGTERM");
    assert.equal(await agent.exited, 0, agent.output());
    await until("the agent hangs up the held download", () => held.abortedByAgent, 5_000, agent.output);
    assert.match(agent.output(), /stopped/);
    // A stop is not a cancel: the deployment stays the agent's, to resume when it comes back.
    assert.equal((await deployment(running.id)).status, "running");
    assert.equal(existsSync(path.join(installRoot, "hello/releases/1.1.0")), false);
  });
});
