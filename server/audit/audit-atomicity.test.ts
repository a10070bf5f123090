/**
 * An audited change and its audit event commit together or not at all. The database itself
 * refuses the audit event here (a trigger, the way a full disk or a lost connection would
 * fail that insert), and the change it belonged to must not be left behind: no customer, no
 * bundle, no queued job. A real server on the test profile, real SQL; nothing is mocked.
 *
 *   node --import tsx --test server/audit/audit-atomicity.test.ts
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BINARY, bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";

describe("audit events commit with their change", () => {
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
    server = await startTestServer();
    world = await bundleWorld(server);
  });
  after(async () => {
    await server?.close();
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
    await world.upload("gateway", "9.1.0", "gateway.bin", "payload for an atomic bundle\n", BINARY);
    await world.release("atomic", "1.0.0", [{ name: "gateway", version: "9.1.0" }]);
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
});
