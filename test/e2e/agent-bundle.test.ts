/**
 * The agent applying bundles the REAL builder made: a catalog with the "shop" service,
 * artifacts and SQL uploaded by CI, SQL approved by a DBA, releases sealed, full and
 * incremental bundles built and downloaded over the API, the public key from
 * GET /signing-key, then `ferry-agent apply` against a real PostgreSQL database.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { dump } from "js-yaml";
import { applyBundle } from "../../agent/apply.js";
import { SCRIPTS, customerDatabase, freePort, shopComponent, shopTarball, stopShop } from "../support/agent-shop.js";
import { bundleWorld, type BundleWorld } from "../support/bundles.js";
import { startTestServer, type TestServer } from "../support/server.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-agent-real-"));

/** The shop fixture as a catalog folder the server loads (service.yml with its pipelines inline). */
function writeCatalog(): string {
  const catalog = path.join(dir, "catalog");
  const component = shopComponent("1.0", "install", null);
  mkdirSync(path.join(catalog, "shop", "config"), { recursive: true });
  mkdirSync(path.join(dir, "pipelines"), { recursive: true });
  const service = {
    apiVersion: "ferry/v1",
    name: "shop",
    description: "A small web shop for agent tests",
    platforms: ["vm"],
    ...component.service,
    artifacts: [...((component.service!.artifacts as unknown[]) ?? []), { name: "scripts", kind: "sql", pattern: "*.sql" }],
    pipelines: component.pipelines,
  };
  writeFileSync(path.join(catalog, "shop", "service.yml"), dump(service, { lineWidth: -1, noRefs: true }));
  for (const [source, text] of Object.entries(component.config!)) writeFileSync(path.join(catalog, "shop", source), text);
  return catalog;
}

describe("ferry-agent apply with bundles from the real builder", () => {
  let server: TestServer;
  let world: BundleWorld;
  let db: Awaited<ReturnType<typeof customerDatabase>>;
  const root = path.join(dir, "opt");

  before(async () => {
    server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeCatalog() } });
    world = await bundleWorld(server);
    db = await customerDatabase();
  });

  after(async () => {
    stopShop(root);
    await server?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("installs a full bundle of 1.0, then upgrades with an incremental 1.0→2.0 bundle", async () => {
    const catalog = await server.call("GET", "/api/v1/catalog/shop", { token: world.ci.token });
    assert.equal(catalog.status, 200, (await server.call("GET", "/api/v1/catalog", { token: world.ci.token })).text);

    await world.upload("shop", "1.0", "shop-1.0.tar.gz", shopTarball("1.0"), { "x-artifact-kind": "binary" });
    await world.uploadSql("shop", "1.0", SCRIPTS.v1.filename, SCRIPTS.v1.content, "shop");
    await world.upload("shop", "2.0", "shop-2.0.tar.gz", shopTarball("2.0"), { "x-artifact-kind": "binary" });
    await world.uploadSql("shop", "2.0", SCRIPTS.v2.filename, SCRIPTS.v2.content, "shop");
    await world.uploadSql("shop", "2.0", SCRIPTS.u2.filename, SCRIPTS.u2.content, "shop");
    await world.approveAll();
    await world.release("shop-suite", "1.0", [{ name: "shop", version: "1.0" }]);
    await world.release("shop-suite", "2.0", [{ name: "shop", version: "2.0" }]);
    const site = await world.site("acme", "plant");

    const key = await fetch(`${server.url}/api/v1/signing-key`);
    assert.equal(key.status, 200);
    const keyFile = path.join(dir, "signing-key.pem");
    writeFileSync(keyFile, await key.text());
    const port = await freePort();
    const varsFile = path.join(dir, "vars.yml");
    writeFileSync(varsFile, dump({ vars: { INSTALL_ROOT: root, HTTP_PORT: port }, components: { shop: { SHOP_DB_URL: db.url, API_SECRET: "real-builder-secret" } } }));
    const workdir = path.join(dir, "work");

    const fetchBundle = async (body: Record<string, unknown>, file: string) => {
      const requested = await world.request(body);
      assert.equal(requested.status, 202, requested.text);
      await world.waitReady(requested.body.id);
      await world.download(requested.body.id, file);
      return file;
    };
    const full = await fetchBundle({ site, release: { product: "shop-suite", version: "1.0" } }, path.join(dir, "a.tar"));
    const installed = await applyBundle({ bundle: full, workdir, varsFile, keyFile, out: () => undefined });
    assert.equal(installed.result, "succeeded", JSON.stringify(installed.error));
    const health = async () => (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { version: string };
    assert.equal((await health()).version, "1.0");
    assert.match(readFileSync(path.join(root, "shop", "app.properties"), "utf8"), /greeting=hello from plant/);
    assert.deepEqual((await db.query("SELECT filename FROM ferry_schema_history ORDER BY installed_rank")).map((r) => r.filename), ["V1__orders.sql"]);

    const incremental = await fetchBundle({ site, release: { product: "shop-suite", version: "2.0" }, from: "1.0", format: "tar.gz" }, path.join(dir, "b.tar.gz"));
    const reportFile = path.join(dir, "report.json");
    const upgraded = await applyBundle({ bundle: incremental, workdir, varsFile, keyFile, reportFile, out: () => undefined });
    assert.equal(upgraded.result, "succeeded", JSON.stringify(upgraded.error));
    assert.equal(upgraded.bundle?.mode, "incremental");
    assert.equal((await health()).version, "2.0");
    assert.deepEqual((await db.query("SELECT filename FROM ferry_schema_history ORDER BY installed_rank")).map((r) => r.filename), ["V1__orders.sql", "V2__add_status.sql"]);
    const report = JSON.parse(readFileSync(reportFile, "utf8"));
    assert.equal(report.inventory.release.version, "2.0");
    assert.equal(report.databases[0].history.length, 2);
  });
});
