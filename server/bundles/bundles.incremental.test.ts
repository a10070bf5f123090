/**
 * Incremental bundles between sealed releases: exactly the changed artifacts and the
 * approved SQL between base and target (through a required release crossed on the way),
 * remove steps for dropped components, and what must already be at the site.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BINARY, bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";

let server: TestServer;
let world: BundleWorld;
const unchangedPg = "pg binaries, same in every release";
const bigApi = Buffer.alloc(1024 * 1024, 3);

before(async () => {
  server = await startTestServer();
  world = await bundleWorld(server);
  // 1.0.0: postgresql, redis, orders-api 1.0.0 (+ V1.0.0.1)
  await world.upload("postgresql", "16.4", "postgresql-16.4-linux-x64-binaries.tar.gz", unchangedPg, BINARY);
  await world.upload("redis", "7.2.5", "redis-7.2.5-linux-x64.tar.gz", "redis", BINARY);
  await world.upload("orders-api", "1.0.0", "orders-api-1.0.0.tar.gz", bigApi, BINARY);
  await world.uploadSql("orders-api", "1.0.0", "V1.0.0.1__create_orders.sql", "CREATE TABLE orders (id bigint primary key);");
  // 1.0.5 (required): orders-api 1.0.5 adds V1.0.5.1
  await world.upload("orders-api", "1.0.5", "orders-api-1.0.5.tar.gz", "api 1.0.5", BINARY);
  await world.uploadSql("orders-api", "1.0.5", "V1.0.5.1__add_customer.sql", "ALTER TABLE orders ADD COLUMN customer text;");
  // 1.1.0: orders-api 1.1.0 (new tarball, V1.1.0.1), orders-web new, redis dropped
  await world.upload("orders-api", "1.1.0", "orders-api-1.1.0.tar.gz", "api 1.1.0", BINARY);
  await world.upload("orders-api", "1.1.0", "orders-api-docs.tar.gz", bigApi, { "x-artifact-kind": "other" });
  await world.uploadSql("orders-api", "1.1.0", "V1.1.0.1__add_status.sql", "ALTER TABLE orders ADD COLUMN status text;");
  await world.upload("orders-web", "1.1.0", "orders-web-1.1.0.tar.gz", "web 1.1.0", BINARY);
  await world.approveAll();
  await world.release("orders", "1.0.0", [
    { name: "postgresql", version: "16.4" },
    { name: "redis", version: "7.2.5" },
    { name: "orders-api", version: "1.0.0" },
  ]);
  await world.release("orders", "1.0.5", [
    { name: "postgresql", version: "16.4" },
    { name: "redis", version: "7.2.5" },
    { name: "orders-api", version: "1.0.5" },
  ], { required: true });
  await world.release("orders", "1.1.0", [
    { name: "postgresql", version: "16.4" },
    { name: "orders-api", version: "1.1.0" },
    { name: "orders-web", version: "1.1.0" },
  ]);
});
after(async () => {
  await server?.close();
});

const shipped = (bundle: any) => (bundle.manifest.files as Array<{ path: string; role: string }>).filter((f) => f.role === "artifact" || f.role === "sql").map((f) => f.path).sort();

describe("incremental bundles", () => {
  it("carry exactly the changed artifacts and the approved scripts between, through required releases", async () => {
    const site = await world.site("globex", "plant");
    const installed = await server.call("POST", `/api/v1/sites/${site}/installed`, { token: world.delivery.token, body: { product: "orders", version: "1.0.0" } });
    assert.equal(installed.status, 200, installed.text);
    const requested = await world.request({ site, release: { product: "orders", version: "1.1.0" }, from: "installed" });
    assert.equal(requested.status, 202, requested.text);
    assert.equal(requested.body.mode, "incremental");
    assert.equal(requested.body.from, "1.0.0", "`installed` is resolved when the bundle is requested");
    const bundle = await world.waitReady(requested.body.id);
    const { manifest } = bundle;
    assert.equal(manifest.folder, "globex-plant_orders-1.1.0_from-1.0.0");
    assert.equal(manifest.base.version, "1.0.0");
    assert.deepEqual(shipped(bundle), [
      "artifacts/orders-api/1.1.0/orders-api-1.1.0.tar.gz",
      "artifacts/orders-web/1.1.0/orders-web-1.1.0.tar.gz",
      "sql/orders/0001_V1.0.5.1__add_customer.sql",
      "sql/orders/0002_V1.1.0.1__add_status.sql",
    ]);
    assert.deepEqual(
      manifest.sql[0].scripts.map((s: { filename: string; release: string }) => `${s.release}:${s.filename}`),
      ["1.0.5:V1.0.5.1__add_customer.sql", "1.1.0:V1.1.0.1__add_status.sql"],
    );
    assert.deepEqual(manifest.requiredReleases.map((r: { version: string }) => r.version), ["1.0.5"]);
    assert.deepEqual(
      manifest.components.map((c: { name: string; action: string; fromVersion: string | null }) => `${c.name}:${c.action}:${c.fromVersion}`),
      ["orders-web:install:null", "postgresql:unchanged:16.4", "orders-api:upgrade:1.0.0", "redis:remove:7.2.5"],
    );
    // The docs archive has the same bytes as the 1.0.0 tarball, which the site already holds.
    const expected = manifest.expects.artifacts.map((a: { filename: string }) => a.filename).sort();
    assert.deepEqual(expected, ["orders-api-docs.tar.gz", "postgresql-16.4-linux-x64-binaries.tar.gz"]);
    assert.equal(manifest.expects.release.version, "1.0.0");
    assert.ok(manifest.files.every((f: { path: string }) => !f.path.startsWith("catalog/postgresql/")), "unchanged components ship nothing");
    assert.ok(manifest.files.some((f: { path: string }) => f.path === "catalog/redis/pipelines.json"), "a removed component's pipelines travel for its stop steps");
    // Small next to the 1 MiB the site already holds: shipped bytes plus catalog, agent and tar overhead.
    const agent = manifest.files.find((f: { path: string }) => f.path === "agent/ferry-agent.mjs")?.size ?? 0;
    assert.ok(bundle.size - agent < 200 * 1024, `an incremental bundle is small (${bundle.size} bytes, ${agent} of them the agent)`);
  });

  it("from an explicit version equals from installed; without the stepping stone the diff would skip its script", async () => {
    const site = await world.site("globex", "explicit");
    const bundle = await world.waitReady((await world.request({ site, release: { product: "orders", version: "1.1.0" }, from: "1.0.5" })).body.id);
    assert.deepEqual(shipped(bundle), [
      "artifacts/orders-api/1.1.0/orders-api-1.1.0.tar.gz",
      "artifacts/orders-api/1.1.0/orders-api-docs.tar.gz",
      "artifacts/orders-web/1.1.0/orders-web-1.1.0.tar.gz",
      "sql/orders/0001_V1.1.0.1__add_status.sql",
    ]);
    assert.deepEqual(bundle.manifest.requiredReleases, []);
    const backwards = await world.request({ site, release: { product: "orders", version: "1.0.0" }, from: "1.1.0" });
    assert.equal(backwards.status, 400);
    assert.equal(backwards.body.error.code, "invalid_base");
  });

  it("plan preview defaults to the installed release", async () => {
    const site = await world.site("globex", "preview");
    await server.call("POST", `/api/v1/sites/${site}/installed`, { token: world.delivery.token, body: { product: "orders", version: "1.0.5" } });
    const plan = await server.call("GET", `/api/v1/sites/${site}/plan?product=orders&version=1.1.0`, { token: world.delivery.token });
    assert.equal(plan.status, 200, plan.text);
    assert.equal(plan.body.mode, "incremental");
    assert.equal(plan.body.base.version, "1.0.5");
    assert.deepEqual(plan.body.sql[0].scripts.map((s: { filename: string }) => s.filename), ["V1.1.0.1__add_status.sql"]);
    const full = await server.call("GET", `/api/v1/sites/${site}/plan?product=orders&version=1.1.0&from=none`, { token: world.delivery.token });
    assert.equal(full.body.mode, "full");
  });
});
