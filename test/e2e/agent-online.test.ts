/**
 * The online agent end to end: the real server in this process, the real bundle builder,
 * and `ferry-agent run --once` as a child process polling with the site token, downloading
 * the bundle, applying it and streaming its steps. Install A on a fresh work directory;
 * then upgrade to B from a half-downloaded bundle that the agent resumes with Range; a
 * failing C is rolled back and reported so; a connection cut mid-download is resumed by the
 * same run; SIGTERM stops an idle agent cleanly.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createSite, publishHello, readEvents, waitForStatus, writeHelloCatalog } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld, type BundleWorld } from "../support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../support/server.js";

const root = path.resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(path.join(tmpdir(), "ferry-agent-online-"));
const installRoot = path.join(dir, "opt");
const workdir = path.join(dir, "work");
const keyFile = path.join(dir, "signing-key.pem");
let server: TestServer;
let world: BundleWorld;
let operator: TestUser;
let siteId: string;
let agentToken: string;

before(async () => {
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir, { failingVersion: "1.2.0" }), FERRY_AGENT_RECHECK_MS: "200" } });
  world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  for (const version of ["1.0.0", "1.1.0", "1.2.0", "1.3.0"]) await publishHello(world, version);
  const site = await createSite(server, operator, "acme", {
    name: "online-plant",
    connectivity: "agent",
    variables: { INSTALL_ROOT: installRoot, GREETING: "hi from the agent" },
    secretVariables: { HELLO_TOKEN: "tok-online-secret" },
  });
  assert.ok(site.agentToken, "an agent site gets a token");
  siteId = site.id;
  agentToken = site.agentToken;
  writeFileSync(keyFile, (await server.call("GET", "/api/v1/signing-key")).text);
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `ferry-agent run --once` asynchronously (the server lives in this process). */
function runAgent(timeoutMs = 120_000, serverUrl?: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const args = ["--import", "tsx", path.join(root, "agent/main.ts"), "run", "--server", serverUrl ?? server.url, "--token", agentToken, "--workdir", workdir, "--key", keyFile, "--once", "--wait", "5"];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) =>
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

async function createDeployment(version: string): Promise<any> {
  const created = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: siteId, release: { product: "hello-suite", version } } });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.body.transport, "agent");
  return created.body;
}

async function finished(id: string, expected: string, agent: { code: number | null; stdout: string; stderr: string }): Promise<any> {
  const ended = await waitForStatus(server, operator.token, id, ["succeeded", "failed", "rolled_back", "cancelled"], 30_000);
  assert.equal(ended.status, expected, `${JSON.stringify(ended)}\nagent exit ${agent.code}\n${agent.stderr}\n${agent.stdout}`);
  return ended;
}

const installed = async () => (await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token })).body;

describe("ferry-agent run (online mode)", () => {
  it("installs release A on a fresh work directory and the server shows the site on A", async () => {
    const deployment = await createDeployment("1.0.0");
    const agent = await runAgent();
    const done = await finished(deployment.id, "succeeded", agent);
    assert.equal(agent.code, 0, agent.stderr);
    assert.equal(done.kind, "install");

    assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.0.0/VERSION"), "utf8"), "1.0.0\n");
    assert.equal(readFileSync(path.join(installRoot, "hello/hello.conf"), "utf8"), "greeting=hi from the agent\ntoken=tok-online-secret\n");
    const state = JSON.parse(readFileSync(path.join(workdir, "state.json"), "utf8"));
    assert.equal(state.release.version, "1.0.0");
    // The bundle was verified and kept under its checksum; the variables file is gone.
    const downloads = readdirSync(path.join(workdir, "downloads"));
    assert.deepEqual(downloads.filter((f) => f.endsWith(".partial")), []);
    assert.equal(downloads.filter((f) => /^[0-9a-f]{64}\.tar$/.test(f)).length, 1);
    assert.deepEqual(existsSync(path.join(workdir, "run")) ? readdirSync(path.join(workdir, "run")) : [], []);

    // Step transitions arrived while applying, and the log lines with them.
    assert.ok(done.steps.length >= 3, JSON.stringify(done.steps));
    assert.ok(done.steps.every((s: any) => s.status === "succeeded"), JSON.stringify(done.steps));
    assert.ok(done.steps.some((s: any) => s.name === "say hello"), JSON.stringify(done.steps));
    const logs = (await readEvents(`${server.url}/api/v1/deployments/${done.id}/logs`, operator.token)).filter((e) => e.event === "log").map((e) => e.data);
    assert.ok(logs.some((l) => l.stream === "agent" && /"event":"verify","status":"succeeded"/.test(l.line)), JSON.stringify(logs));
    assert.ok(!JSON.stringify(logs).includes("tok-online-secret"), "secret values never reach the logs");
    // The `run` step's own output reaches the server, stdout and stderr apart.
    assert.ok(logs.some((l) => l.stream === "stdout" && l.line === "1.0.0 installed"), JSON.stringify(logs));
    assert.ok(logs.some((l) => l.stream === "stderr" && l.line === "a warning"), JSON.stringify(logs));
    // A NUL byte in the output (the server cannot store one) arrives as U+FFFD, and nothing after it is held back.
    assert.ok(logs.some((l) => l.stream === "stdout" && l.line === "raw\ufffdbytes"), JSON.stringify(logs));

    const site = await installed();
    assert.equal(site.installed?.version ?? site.installedVersion, "1.0.0", JSON.stringify(site));
    assert.equal(site.agent.version, "0.1.0", JSON.stringify(site));
  });

  it("resumes a half-downloaded bundle with Range and upgrades to B", async () => {
    const deployment = await createDeployment("1.1.0");
    let bundle: any;
    for (const deadline = Date.now() + 60_000; ; ) {
      bundle = (await server.call("GET", `/api/v1/bundles/${deployment.bundle}`, { token: operator.token })).body;
      if (bundle.status === "ready") break;
      assert.ok(bundle.status !== "failed" && Date.now() < deadline, JSON.stringify(bundle));
      await new Promise((r) => setTimeout(r, 100));
    }
    // As an agent killed mid-download leaves it: the first half, under the bundle's checksum.
    const half = Math.floor(bundle.size / 2);
    const head = await fetch(`${server.url}/api/v1/agent/bundles/${bundle.id}/download`, { headers: { authorization: `Bearer ${agentToken}`, range: `bytes=0-${half - 1}` } });
    assert.equal(head.status, 206);
    mkdirSync(path.join(workdir, "downloads"), { recursive: true });
    writeFileSync(path.join(workdir, "downloads", `${bundle.sha256}.tar.partial`), Buffer.from(await head.arrayBuffer()));

    const agent = await runAgent();
    const done = await finished(deployment.id, "succeeded", agent);
    assert.equal(done.kind, "upgrade");
    assert.match(agent.stderr, new RegExp(`resuming bundle ${bundle.id} at byte ${half} of ${bundle.size}`));
    assert.match(agent.stderr, /sha256 verified/);
    assert.ok(existsSync(path.join(workdir, "downloads", `${bundle.sha256}.tar`)));
    assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.1.0/VERSION"), "utf8"), "1.1.0\n");
    assert.equal((await installed()).installed?.version ?? (await installed()).installedVersion, "1.1.0");
  });

  it("a step failing in C is rolled back, reported rolled_back, and the site stays on B", async () => {
    const deployment = await createDeployment("1.2.0");
    const agent = await runAgent();
    const done = await finished(deployment.id, "rolled_back", agent);
    assert.equal(agent.code, 1, "--once exits 1 when the deployment did not succeed");
    assert.match(done.error ?? "", /smoke test|rolled/i);
    assert.ok(done.steps.some((s: any) => s.name === "smoke test" && s.status === "failed"), JSON.stringify(done.steps));
    assert.ok(done.steps.some((s: any) => s.status === "rolled_back"), JSON.stringify(done.steps));
    assert.equal(JSON.parse(readFileSync(path.join(workdir, "state.json"), "utf8")).release.version, "1.1.0");
    const site = await installed();
    assert.equal(site.installed?.version ?? site.installedVersion, "1.1.0");
  });

  it("a connection cut in the middle of the download is resumed with Range by the same run", async () => {
    // A pass-through proxy in front of the server that drops the first bundle download halfway.
    const seen: Array<{ range: string | undefined; status: number }> = [];
    let cut = false;
    const proxy = http.createServer((req, res) => {
      const upstream = http.request(new URL(req.url!, server.url), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        const download = /\/agent\/bundles\/[^/]+\/download/.test(req.url!);
        if (download) seen.push({ range: req.headers.range, status: answer.statusCode! });
        if (!download || cut) return void answer.pipe(res);
        cut = true;
        const half = Math.floor(Number(answer.headers["content-length"]) / 2);
        let sent = 0;
        answer.on("data", (chunk: Buffer) => {
          if (sent >= half) return;
          res.write(chunk.subarray(0, half - sent));
          sent += Math.min(chunk.length, half - sent);
          if (sent >= half) {
            answer.destroy();
            setTimeout(() => res.destroy(), 50);
          }
        });
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const deployment = await createDeployment("1.3.0");
      const agent = await runAgent(120_000, `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`);
      await finished(deployment.id, "succeeded", agent);
      assert.equal(seen.length, 2, JSON.stringify(seen));
      assert.deepEqual(seen[0], { range: undefined, status: 200 });
      assert.match(seen[1]!.range ?? "", /^bytes=[1-9]\d*-$/);
      assert.equal(seen[1]!.status, 206);
      assert.match(agent.stderr, /retrying in 1s/);
      assert.match(agent.stderr, /sha256 verified/);
      assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.3.0/VERSION"), "utf8"), "1.3.0\n");
      assert.equal((await installed()).installed.version, "1.3.0");
    } finally {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it("SIGTERM stops an idle agent in the middle of a long poll", async () => {
    const args = ["--import", "tsx", path.join(root, "agent/main.ts"), "run", "--server", server.url, "--token", agentToken, "--workdir", workdir, "--key", keyFile, "--wait", "60"];
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Wait until the heartbeat reached the server (the site's last-seen time moves), then stop it.
    const before = (await installed()).agent.lastSeenAt;
    for (const deadline = Date.now() + 30_000; ; ) {
      const site = await installed();
      if (site.agent.lastSeenAt !== before) break;
      assert.ok(Date.now() < deadline, `no heartbeat: ${stderr}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const stoppedAt = Date.now();
    child.kill("SIGTERM");
    assert.equal(await exited, 0, stderr);
    assert.ok(Date.now() - stoppedAt < 5_000, "it does not wait for the long poll to end");
    assert.match(stderr, /stopped/);
  });

  it("a wrong token stops the agent with exit 1 instead of retrying forever", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "agent/main.ts"), "run", "--server", server.url, "--token", "not-a-token", "--workdir", path.join(dir, "other"), "--once", "--wait", "0"], { cwd: root, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise((resolve) => child.once("exit", resolve));
    assert.equal(code, 1);
    assert.match(stderr, /refused the site token \(401\)/);
  });
});
