/**
 * SSH deployments end to end: the real bundle builder, the real ferry-agent copied over
 * SFTP and run by a real sshd on loopback into a temporary directory, its output streamed
 * into the deployment, its report imported. Install A, upgrade to B, and a failing C that
 * the agent rolls back while the server keeps the site on B.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createSite, publishHello, readEvents, waitForStatus, writeHelloCatalog } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld, type BundleWorld } from "../support/bundles.js";
import { startSshd, type TestSshd } from "../support/sshd.js";
import { startTestServer, type TestServer, type TestUser } from "../support/server.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-ssh-deploy-"));
const installRoot = path.join(dir, "opt");
const ferryDir = path.join(dir, "ferry");
let sshd: TestSshd;
let server: TestServer;
let world: BundleWorld;
let operator: TestUser;
let siteId: string;

before(async () => {
  sshd = await startSshd();
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir, { failingVersion: "1.2.0" }) } });
  world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await publishHello(world, version);
  const site = await createSite(server, operator, "acme", {
    name: "remote-plant",
    connectivity: "ssh",
    variables: { INSTALL_ROOT: installRoot, GREETING: "hi from ssh", FERRY_SSH_DIR: ferryDir },
    secretVariables: { HELLO_TOKEN: "tok-very-secret" },
    ssh: { host: sshd.host, port: sshd.port, user: sshd.user, privateKey: sshd.privateKey },
  });
  siteId = site.id;
});
after(async () => {
  await server?.close();
  await sshd?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function deploy(version: string, expected: string): Promise<any> {
  const created = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: siteId, release: { product: "hello-suite", version } } });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.body.transport, "ssh");
  const ended = await waitForStatus(server, operator.token, created.body.id, ["succeeded", "failed", "rolled_back", "cancelled"], 120_000);
  if (ended.status !== expected) {
    const logs = await readEvents(`${server.url}/api/v1/deployments/${created.body.id}/logs`, operator.token);
    assert.fail(`deployment of ${version} ended ${ended.status} (${ended.error}), expected ${expected}:\n${logs.map((e) => e.data?.line).join("\n")}`);
  }
  return ended;
}

const installed = async () => (await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token })).body;

describe("ssh deployments with the real agent", () => {
  it("installs release A into the site's directory and the site shows A", async () => {
    const done = await deploy("1.0.0", "succeeded");
    assert.equal(done.kind, "install");
    assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.0.0/VERSION"), "utf8"), "1.0.0\n");
    assert.equal(readFileSync(path.join(installRoot, "hello/hello.conf"), "utf8"), "greeting=hi from ssh\ntoken=tok-very-secret\n");
    assert.ok(done.steps.length >= 3, JSON.stringify(done.steps));
    assert.ok(done.steps.every((s: any) => s.status === "succeeded"), JSON.stringify(done.steps));
    assert.ok(done.steps.some((s: any) => s.name === "say hello"));

    const logs = (await readEvents(`${server.url}/api/v1/deployments/${done.id}/logs`, operator.token)).filter((e) => e.event === "log").map((e) => e.data);
    // The agent's JSON lines arrive as they are printed, and become step transitions too.
    assert.ok(logs.some((l) => l.stream === "agent" && /"event":"verify","status":"succeeded"/.test(l.line)), JSON.stringify(logs));
    assert.ok(logs.some((l) => l.stream === "step" && l.line === "hello: say hello succeeded"));
    // Output with a NUL byte (PostgreSQL cannot store one) is kept with U+FFFD in its place.
    assert.ok(logs.some((l) => l.stream === "stdout" && /raw\ufffdbytes$/.test(l.line)), JSON.stringify(logs));
    assert.ok(logs.some((l) => l.stream === "agent" && l.line.startsWith("copied bundle")));
    assert.ok(!JSON.stringify(logs).includes("tok-very-secret"), "secret values never reach the logs");
    // The agent, bundle and work directory live in FERRY_SSH_DIR; the variables file is gone.
    assert.ok(existsSync(path.join(ferryDir, "work", "state.json")));
    assert.equal(readdirSync(path.join(ferryDir, "bundles")).filter((f) => f.endsWith(".tar")).length, 1);
    assert.deepEqual(readdirSync(path.join(ferryDir, "reports")).filter((f) => f.endsWith(".vars.json")), []);

    const site = await installed();
    assert.equal(site.installed?.version ?? site.installedVersion, "1.0.0", JSON.stringify(site));
    assert.match(JSON.stringify(site), /report-imported/);
  });

  it("upgrades incrementally to B", async () => {
    const done = await deploy("1.1.0", "succeeded");
    assert.equal(done.kind, "upgrade");
    assert.equal(done.from, "1.0.0");
    assert.equal(readFileSync(path.join(installRoot, "hello/releases/1.1.0/VERSION"), "utf8"), "1.1.0\n");
    const site = await installed();
    assert.equal(site.installed?.version ?? site.installedVersion, "1.1.0");
  });

  it("a step failing in C is rolled back and the site stays on B", async () => {
    const done = await deploy("1.2.0", "rolled_back");
    assert.match(done.error ?? "", /smoke test|rolled/i);
    assert.ok(done.steps.some((s: any) => s.name === "smoke test" && s.status === "failed"), JSON.stringify(done.steps));
    const site = await installed();
    assert.equal(site.installed?.version ?? site.installedVersion, "1.1.0");
  });
});
