/**
 * Deployments API and agent API against a real server: kind derivation, one deployment
 * per site, the agent's long poll handing out the deploy action, bundle download with the
 * site token (own site only), step events and log lines, live logs over SSE with
 * Last-Event-ID, cancel, and what the site records at the end.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { createSite, publishHello, readEvents, waitForStatus, writeHelloCatalog, type CreatedSite } from "./deployments.fixtures.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-deployments-"));
let server: TestServer;
let world: BundleWorld;
let operator: TestUser;
let site: CreatedSite;
let other: CreatedSite;

const heartbeat = (token: string, wait = 0, inventory: Record<string, unknown> = {}) =>
  server.call("POST", `/api/v1/agent/heartbeat?wait=${wait}`, { token, body: { agentVersion: "0.1.0-test", inventory } });

before(async () => {
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "100" } });
  world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  for (const version of ["1.0.0", "1.1.0", "1.2.0"]) await publishHello(world, version);
  site = await createSite(server, operator, "acme", { name: "plant-1", connectivity: "agent", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "s3cret-token" } });
  other = await createSite(server, operator, "acme", { name: "plant-2", connectivity: "agent", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "other" } });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const deploy = (body: Record<string, unknown>, token = operator.token) => server.call("POST", "/api/v1/deployments", { token, body });

describe("deployments", () => {
  let first: any;
  let action: any;

  it("refuses offline sites, bad bodies and roles without the right", async () => {
    const offline = await createSite(server, operator, "acme", { name: "bunker", connectivity: "offline" });
    const refused = await deploy({ site: offline.id, release: { product: "hello-suite", version: "1.0.0" } });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(refused.body.error.code, "offline_site");
    assert.equal((await deploy({ site: site.id, release: { product: "hello-suite", version: "1.0.0" }, extra: 1 })).status, 400);
    assert.equal((await deploy({ site: site.id, release: { product: "hello-suite", version: "1.0.0" } }, world.ci.token)).status, 403);
    assert.equal((await deploy({ site: site.id, release: { product: "hello-suite", version: "9.9.9" } })).status, 404);
  });

  it("creates an install, and a second deployment of the same site is refused while it runs", async () => {
    const created = await deploy({ site: site.id, release: { product: "hello-suite", version: "1.0.0" } });
    assert.equal(created.status, 202, created.text);
    first = created.body;
    assert.equal(first.kind, "install");
    assert.equal(first.transport, "agent");
    assert.equal(first.status, "queued");
    assert.ok(first.bundle);
    const again = await deploy({ site: site.id, release: { product: "hello-suite", version: "1.1.0" } });
    assert.equal(again.status, 409, again.text);
    assert.equal(again.body.error.code, "deployment_in_progress");
    assert.equal(again.body.error.details.deployment, first.id);
    // Concurrent creations for another site: exactly one wins.
    const racing = await Promise.all([1, 2, 3].map(() => deploy({ site: other.id, release: { product: "hello-suite", version: "1.0.0" } })));
    assert.deepEqual(racing.map((r) => r.status).sort(), [202, 409, 409], racing.map((r) => r.text).join("\n"));
    const winner = racing.find((r) => r.status === 202)!;
    assert.equal((await server.call("POST", `/api/v1/deployments/${winner.body.id}/cancel`, { token: operator.token })).status, 200);
  });

  it("hands the deployment to the agent's long poll once the bundle is ready", async () => {
    const started = Date.now();
    const polled = await heartbeat(site.agentToken!, 30, { components: [] });
    assert.equal(polled.status, 200, polled.text);
    assert.ok(Date.now() - started < 25_000);
    action = polled.body.action;
    assert.equal(action.type, "deploy");
    assert.equal(action.deploymentId, first.id);
    assert.equal(action.vars.vars.HELLO_TOKEN, "s3cret-token");
    assert.equal(action.vars.vars.INSTALL_ROOT, "/srv");
    // A quarter of the default 10-minute stall time would leave a cancel unheard for 2.5 min.
    assert.equal(action.keepaliveMs, 15_000);
    const bundle = await server.call("GET", `/api/v1/bundles/${first.bundle}`, { token: operator.token });
    assert.equal(action.bundle.sha256, bundle.body.sha256);
    assert.equal(action.bundle.size, bundle.body.size);
    const now = await server.call("GET", `/api/v1/deployments/${first.id}`, { token: operator.token });
    assert.equal(now.body.status, "running");
    assert.ok(now.body.startedAt);
    const shown = await server.call("GET", `/api/v1/sites/${site.id}`, { token: operator.token });
    assert.match(shown.text, /0\.1\.0-test/);
    // The other site has nothing to do: 204 at once with wait=0.
    assert.equal((await heartbeat(other.agentToken!, 0)).status, 204);
    // A user token cannot call the agent API, a site token cannot call the rest.
    assert.equal((await heartbeat(operator.token)).status, 403);
    assert.equal((await server.call("GET", `/api/v1/deployments/${first.id}`, { token: site.agentToken })).status, 403);
  });

  it("serves the bundle to its own site only, with Range and ETag", async () => {
    const url = `${server.url}${action.bundle.url}`;
    const whole = await fetch(url, { headers: { authorization: `Bearer ${site.agentToken}` } });
    assert.equal(whole.status, 200);
    const bytes = Buffer.from(await whole.arrayBuffer());
    assert.equal(createHash("sha256").update(bytes).digest("hex"), action.bundle.sha256);
    assert.equal(whole.headers.get("etag"), `"${action.bundle.sha256}"`);
    const part = await fetch(url, { headers: { authorization: `Bearer ${site.agentToken}`, range: "bytes=100-199" } });
    assert.equal(part.status, 206);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(100, 200));
    const foreign = await fetch(url, { headers: { authorization: `Bearer ${other.agentToken}` } });
    assert.equal(foreign.status, 404);
  });

  it("records step events and log lines, streams them, and ends with the site on the release", async () => {
    const events = (body: Record<string, unknown>, token = site.agentToken!) => server.call("POST", `/api/v1/agent/deployments/${first.id}/events`, { token, body });
    assert.equal((await events({ events: [] }, other.agentToken!)).status, 404);
    assert.equal((await events({ events: [{ type: "step", seq: 1, name: "x", status: "bogus" }] })).status, 400);
    const posted = await events({
      status: "running",
      events: [
        { type: "step", seq: 1, component: "hello", name: "unpack hello", status: "running" },
        { type: "log", stream: "stdout", line: "unpacking 2 files" },
        { type: "step", seq: 1, component: "hello", name: "unpack hello", status: "succeeded" },
        { type: "step", seq: 2, component: "hello", name: "say hello", status: "running" },
      ],
    });
    assert.equal(posted.status, 200, posted.text);
    // A follower started now sees the stored lines, then the rest as it happens, then the end.
    const following = readEvents(`${server.url}/api/v1/deployments/${first.id}/logs`, operator.token);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const done = await events({ status: "succeeded", events: [{ type: "log", stream: "stdout", line: "1.0.0 installed" }, { type: "step", seq: 2, component: "hello", name: "say hello", status: "succeeded" }] });
    assert.equal(done.status, 200, done.text);
    assert.equal(done.body.status, "succeeded");
    const stream = await following;
    const lines = stream.filter((e) => e.event === "log").map((e) => e.data.line);
    assert.ok(lines.includes("unpacking 2 files"));
    assert.ok(lines.includes("1.0.0 installed"), lines.join("\n"));
    assert.deepEqual(stream.at(-1), { id: undefined, event: "end", data: { status: "succeeded", error: null } });
    // Resuming after the 2nd event replays only what follows it.
    const ids = stream.filter((e) => e.id).map((e) => e.id!);
    const resumed = await readEvents(`${server.url}/api/v1/deployments/${first.id}/logs`, operator.token, { "last-event-id": ids[1]! });
    assert.deepEqual(resumed.filter((e) => e.id).map((e) => e.id), ids.slice(2));

    const shown = await server.call("GET", `/api/v1/deployments/${first.id}`, { token: operator.token });
    assert.deepEqual(shown.body.steps.map((s: any) => `${s.seq}:${s.name}:${s.status}`), ["1:unpack hello:succeeded", "2:say hello:succeeded"]);
    assert.ok(shown.body.finishedAt);
    const siteNow = await server.call("GET", `/api/v1/sites/${site.id}`, { token: operator.token });
    assert.match(siteNow.text, /"version":"1\.0\.0"/);
    assert.match(siteNow.text, new RegExp(first.id));
    // A retried final post is answered the same; another status is refused.
    assert.equal((await events({ status: "succeeded" })).status, 200);
    assert.equal((await events({ status: "failed" })).body.error.code, "deployment_finished");
    const listed = await server.call("GET", `/api/v1/deployments?site=${site.id}&status=succeeded`, { token: operator.token });
    assert.deepEqual(listed.body.items.map((d: any) => d.id), [first.id]);
  });

  it("derives upgrade and rollback, wakes a waiting heartbeat, and cancels", async () => {
    assert.equal((await deploy({ site: site.id, release: { product: "hello-suite", version: "1.0.0" } })).body.error.code, "already_installed");
    const waiting = heartbeat(site.agentToken!, 30);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const upgrade = await deploy({ site: site.id, release: { product: "hello-suite", version: "1.2.0" } });
    assert.equal(upgrade.status, 202, upgrade.text);
    assert.equal(upgrade.body.kind, "upgrade");
    assert.equal(upgrade.body.from, "1.0.0");
    const woke = await waiting;
    assert.equal(woke.status, 200, woke.text);
    assert.equal(woke.body.action.deploymentId, upgrade.body.id);

    // The agent's watch: a keep-alive (it moves the last contact) that is held while the deployment runs.
    const watch = (wait: number, token = site.agentToken!) => server.call("POST", `/api/v1/agent/deployments/${upgrade.body.id}/watch?wait=${wait}`, { token, body: {} });
    const longAgo = new Date(Date.now() - 3_600_000);
    await server.ctx.db.deployment.update({ where: { id: upgrade.body.id }, data: { lastContactAt: longAgo } });
    const quick = await watch(0);
    assert.equal(quick.status, 200, quick.text);
    assert.equal(quick.body.status, "running");
    const contact = await server.ctx.db.deployment.findUniqueOrThrow({ where: { id: upgrade.body.id }, select: { lastContactAt: true } });
    assert.ok(contact.lastContactAt!.getTime() > longAgo.getTime() + 3_000_000, "the watch counts as the agent's contact");
    assert.equal((await watch(0, other.agentToken!)).status, 404, "another site's agent cannot watch it");
    assert.equal((await watch(-1)).status, 400);
    const held = watch(30);
    await new Promise((resolve) => setTimeout(resolve, 300));

    const cancelledAt = Date.now();
    const cancelled = await server.call("POST", `/api/v1/deployments/${upgrade.body.id}/cancel`, { token: operator.token });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.body.status, "cancelled");
    const answered = await held;
    assert.equal(answered.status, 409, answered.text);
    assert.equal(answered.body.error.code, "deployment_cancelled");
    assert.ok(Date.now() - cancelledAt < 5_000, `the held watch answered ${Date.now() - cancelledAt} ms after the cancel`);
    assert.equal((await watch(0)).body.error.code, "deployment_cancelled", "a watch on an ended deployment is answered at once");
    const late = await server.call("POST", `/api/v1/agent/deployments/${upgrade.body.id}/events`, { token: site.agentToken, body: { events: [{ type: "log", line: "still going" }] } });
    assert.equal(late.status, 409);
    assert.equal(late.body.error.code, "deployment_cancelled");
    assert.equal((await server.call("POST", `/api/v1/deployments/${upgrade.body.id}/cancel`, { token: operator.token })).body.error.code, "deployment_finished");
    const siteNow = await server.call("GET", `/api/v1/sites/${site.id}`, { token: operator.token });
    assert.match(siteNow.text, /"version":"1\.0\.0"/);

    const recorded = await server.call("POST", `/api/v1/sites/${site.id}/installed`, { token: operator.token, body: { product: "hello-suite", version: "1.2.0" } });
    assert.equal(recorded.status, 200, recorded.text);
    const rollback = await deploy({ site: site.id, release: { product: "hello-suite", version: "1.1.0" } });
    assert.equal(rollback.status, 202, rollback.text);
    assert.equal(rollback.body.kind, "rollback");
    const polled = await heartbeat(site.agentToken!, 30);
    assert.equal(polled.body.action.deploymentId, rollback.body.id);
    const failed = await server.call("POST", `/api/v1/agent/deployments/${rollback.body.id}/events`, {
      token: site.agentToken,
      body: { status: "rolled_back", error: "smoke test failed", events: [{ type: "step", seq: 3, component: "hello", name: "smoke test", status: "failed", message: "exit 3" }] },
    });
    assert.equal(failed.status, 200, failed.text);
    const ended = await waitForStatus(server, operator.token, rollback.body.id, ["rolled_back"]);
    assert.equal(ended.error, "smoke test failed");
    // Only success moves the site.
    assert.match((await server.call("GET", `/api/v1/sites/${site.id}`, { token: operator.token })).text, /"version":"1\.2\.0"/);
  });

  it("a held watch also learns of a cancel made by another server process (no wake-up here: the re-read)", async () => {
    const created = await deploy({ site: other.id, release: { product: "hello-suite", version: "1.0.0" } });
    assert.equal(created.status, 202, created.text);
    const handed = await heartbeat(other.agentToken!, 30);
    assert.equal(handed.body.action.deploymentId, created.body.id);
    const held = server.call("POST", `/api/v1/agent/deployments/${created.body.id}/watch?wait=30`, { token: other.agentToken, body: {} });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // As another process's cancel would leave it: the row changed, and no notifier in this process woke.
    const changedAt = Date.now();
    await server.ctx.db.deployment.update({ where: { id: created.body.id }, data: { status: "cancelled", error: "cancelled by someone elsewhere", finishedAt: new Date() } });
    const answered = await held;
    assert.equal(answered.status, 409, answered.text);
    assert.equal(answered.body.error.code, "deployment_cancelled");
    // FERRY_AGENT_RECHECK_MS is 100 ms on this server.
    assert.ok(Date.now() - changedAt < 3_000, `answered ${Date.now() - changedAt} ms after the change`);
  });
});
