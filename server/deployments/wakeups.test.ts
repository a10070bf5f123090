/**
 * An agent's long poll is woken once the change it should see has committed. The database
 * re-check is an hour away here, so only the wake-up can hand a new deployment to a waiting
 * agent promptly. A wake-up sent before the commit would find nothing and leave the agent
 * waiting out its poll. That shows on the PostgreSQL profile (checked: 20 s, then this test
 * fails). On PGlite the woken query queues behind the open transaction, so it passes either way.
 *
 *   node --import tsx --test server/deployments/wakeups.test.ts
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, it } from "node:test";
import { bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { createSite, publishHello, writeHelloCatalog, type CreatedSite } from "./deployments.fixtures.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-wakeups-"));
let server: TestServer;
let world: BundleWorld;
let operator: TestUser;
let site: CreatedSite;

before(async () => {
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "3600000" } });
  world = await bundleWorld(server);
  operator = await server.user(["operator"]);
  await publishHello(world, "1.0.0");
  site = await createSite(server, operator, "wakeful", { name: "plant-1", connectivity: "agent", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "t" } });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

it("a deployment created while its agent waits is handed out at once", async () => {
  // The bundle the deployment will reuse, built first, so it can be handed out the moment it exists.
  const built = await world.request({ site: site.id, release: { product: "hello-suite", version: "1.0.0" }, format: "tar" });
  assert.equal(built.status, 202, built.text);
  await world.waitReady(built.body.id);

  const started = Date.now();
  const polled = server.call("POST", "/api/v1/agent/heartbeat?wait=20", { token: site.agentToken, body: { agentVersion: "0.1.0-test", inventory: {} } });
  await sleep(500); // the heartbeat is waiting by now
  const created = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: site.id, release: { product: "hello-suite", version: "1.0.0" } } });
  assert.equal(created.status, 202, created.text);
  assert.equal(created.body.bundle, built.body.id, "the deployment reuses the ready bundle");

  const answer = await polled;
  assert.equal(answer.status, 200, `the waiting heartbeat was not handed the deployment: ${answer.status} ${answer.text}`);
  assert.equal(answer.body.action.deploymentId, created.body.id);
  assert.ok(Date.now() - started < 5_000, `handed out after ${Date.now() - started} ms`);
});
