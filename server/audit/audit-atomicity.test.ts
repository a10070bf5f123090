/**
 * An audited change and its audit event commit together or not at all. The database itself
 * refuses the audit event here (a trigger, the way a full disk or a lost connection would
 * fail that insert), and the change it belonged to must not be left behind: no customer, no
 * bundle, no queued job, no deployment claimed by an agent. A real server on the test profile, real SQL; nothing is mocked.
 *
 *   node --import tsx --test server/audit/audit-atomicity.test.ts
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BINARY, bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { createSite, deployHello, helloTarball, publishHello, writeHelloCatalog } from "../deployments/deployments.fixtures.js";

describe("audit events commit with their change", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-audit-atomicity-"));
  let server: TestServer;
  let world: BundleWorld;

  /** Makes the database refuse audit events for `action` until the returned function runs. */
  async function refuseAuditEvents(action: string): Promise<() => Promise<void>> {
    const db = server.ctx.database.prisma;
    await db.$executeRawUnsafe(`CREATE OR REPLACE FUNCTION ferry_test_refuse_audit() RETURNS trigger AS $$
      BEGIN RAISE EXCEPTION 'audit events refused by the test'; END $$ LANGUAGE plpgsql`);
    await db.$executeRawUnsafe(`CREATE TRIGGER ferry_test_refuse_audit BEFORE INSERT ON "AuditEvent" FOR EACH ROW
      WHEN (NEW.action = '${action}') EXECUTE FUNCTION ferry_test_refuse_audit()`);
    return async () => {
      await db.$executeRawUnsafe(`DROP TRIGGER ferry_test_refuse_audit ON "AuditEvent"`);
    };
  }

  const auditActions = async (action: string) =>
    (await server.call("GET", `/api/v1/audit?limit=200`, { token: server.admin.token })).body.items.filter((event: { action: string }) => event.action === action);

  before(async () => {
    server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "100" } });
    world = await bundleWorld(server);
  });
  after(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a change whose audit event fails is rolled back, and the same request then succeeds once", async () => {
    const allow = await refuseAuditEvents("customer.create");
    const refused = await server.call("POST", "/api/v1/customers", { token: world.delivery.token, body: { name: "atomic-co" } });
    assert.equal(refused.status, 500, refused.text);
    assert.equal(refused.body.error.code, "internal_error");
    assert.ok(!refused.text.includes("refused by the test"), "the database's message stays in the log, not the response");
    const listed = await server.call("GET", "/api/v1/customers", { token: world.delivery.token });
    assert.ok(!JSON.stringify(listed.body).includes("atomic-co"), "the customer must not exist without its audit event");
    await allow();

    const created = await server.call("POST", "/api/v1/customers", { token: world.delivery.token, body: { name: "atomic-co" } });
    assert.equal(created.status, 201, `a retry finds nothing left over from the failed attempt: ${created.text}`);
    const events = await auditActions("customer.create");
    assert.deepEqual(events.map((event: { target: string }) => event.target).filter((target: string) => target === "atomic-co"), ["atomic-co"]);
    const verified = await server.call("GET", "/api/v1/audit/verify", { token: server.admin.token });
    assert.equal(verified.body.ok, true);
  });

  it("an upload whose audit event fails records no artifact; its retry creates it (201, not 'already there')", async () => {
    const blobsBefore = await server.ctx.database.prisma.blob.count();
    const allow = await refuseAuditEvents("artifact.upload");
    const url = `${server.url}/api/v1/artifacts/atomic-upload/1.0.0/atomic.bin`;
    const put = () => fetch(url, { method: "PUT", headers: { authorization: `Bearer ${world.ci.token}`, "content-type": "application/octet-stream" }, body: "streamed, then refused\n" });
    const refused = await put();
    assert.equal(refused.status, 500, await refused.text());
    const info = await server.call("GET", "/api/v1/artifacts/atomic-upload/1.0.0/atomic.bin/info", { token: world.ci.token });
    assert.equal(info.status, 404, info.text);
    assert.equal(await server.ctx.database.prisma.blob.count(), blobsBefore, "the stored bytes went with the rolled-back row");
    await allow();

    const created = await put();
    assert.equal(created.status, 201, await created.text());
    assert.equal((await auditActions("artifact.upload")).filter((event: { target: string }) => event.target === "atomic-upload/1.0.0/atomic.bin").length, 1);
  });

  it("a bundle request whose audit event fails leaves no bundle and no job for a worker to find", async () => {
    await world.upload("hello", "9.1.0", "hello-9.1.0.tar.gz", helloTarball("9.1.0"), BINARY);
    await world.release("atomic", "1.0.0", [{ name: "hello", version: "9.1.0" }]);
    const siteId = await world.site("atomic-customer", "atomic-site");
    const jobsBefore = await server.ctx.database.prisma.job.count();

    const allow = await refuseAuditEvents("bundle.request");
    const refused = await world.request({ site: siteId, release: { product: "atomic", version: "1.0.0" } });
    assert.equal(refused.status, 500, refused.text);
    assert.equal(await server.ctx.database.prisma.bundle.count({ where: { siteId } }), 0, "no bundle row");
    assert.equal(await server.ctx.database.prisma.job.count(), jobsBefore, "no queued job");
    await allow();

    const accepted = await world.request({ site: siteId, release: { product: "atomic", version: "1.0.0" } });
    assert.equal(accepted.status, 202, accepted.text);
    const ready = await world.waitReady(accepted.body.id);
    assert.equal(ready.status, "ready");
  });

  it("a heartbeat whose hand-out event fails claims nothing; the agent's next heartbeat gets the deployment, with one event", async () => {
    const prisma = server.ctx.database.prisma;
    await publishHello(world, "1.0.0");
    const operator = await server.user(["operator"]);
    const site = await createSite(server, operator, "atomic-agent-co", { name: "plant", connectivity: "agent", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "atomic" } });
    const id = await deployHello(server, operator.token, site.id, "1.0.0");
    const heartbeat = () => server.call("POST", "/api/v1/agent/heartbeat?wait=30", { token: site.agentToken!, body: { agentVersion: "1.0.0", agentId: "agent-a", inventory: {} } });
    const handedOut = async () => (await auditActions("agent.heartbeat")).filter((event: { target: string }) => event.target === site.id);

    const allow = await refuseAuditEvents("agent.heartbeat");
    // The long poll waits for the bundle, then claims the deployment: that claim and its event fail together.
    const refused = await heartbeat();
    assert.equal(refused.status, 500, refused.text);
    const unclaimed = await prisma.deployment.findUniqueOrThrow({ where: { id } });
    assert.equal(unclaimed.status, "queued", "a deployment handed out without its audit event must not stay claimed");
    assert.equal(unclaimed.claimedBy, null);
    assert.equal(unclaimed.startedAt, null);
    assert.equal(unclaimed.lastContactAt, null);
    assert.equal((await handedOut()).length, 0);
    await allow();

    const given = await heartbeat();
    assert.equal(given.status, 200, given.text);
    assert.equal(given.body.action.deploymentId, id);
    const claimed = await prisma.deployment.findUniqueOrThrow({ where: { id } });
    assert.equal(claimed.status, "running");
    assert.equal(claimed.claimedBy, `site:${site.id}:agent-a`);
    assert.deepEqual((await handedOut()).map((event: { details: { deployment: string } }) => event.details.deployment), [id]);
    const verified = await server.call("GET", "/api/v1/audit/verify", { token: server.admin.token });
    assert.equal(verified.body.ok, true);
  });
});
