/**
 * Offline report import: a real bundle built for an offline site, applied by the real
 * ferry-agent (`apply --report`), the report imported over the API and cross-checked
 * against the bundle's manifest.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BundleWorld } from "../../test/support/bundles.js";
import type { TestServer, TestUser } from "../../test/support/server.js";
import { createSite, offlineReportWorld, type OfflineReportWorld } from "../deployments/deployments.fixtures.js";

let server: TestServer;
let world: BundleWorld;
let operator: TestUser;
let siteId: string;
let report: any;
let setup: OfflineReportWorld;

before(async () => {
  setup = await offlineReportWorld();
  ({ server, world, operator, siteId, report } = setup);
});
after(() => setup?.close());

const post = (id: string, body: unknown, headers: Record<string, string> = {}) => server.call("POST", `/api/v1/sites/${id}/reports`, { token: operator.token, body: typeof body === "string" ? body : JSON.stringify(body), headers: { "content-type": "application/json", ...headers } });

describe("report import", () => {
  it("refuses what is not a report, a report of another site, and one that does not match its bundle", async () => {
    assert.equal((await post(siteId, { hello: 1 })).status, 400);
    assert.equal((await server.call("POST", `/api/v1/sites/${siteId}/reports`, { token: world.ci.token, body: report })).status, 403);
    const otherSite = (await createSite(server, operator, "acme", { name: "bunker-2", connectivity: "offline" })).id;
    const foreign = await post(otherSite, report);
    assert.equal(foreign.status, 409, foreign.text);
    assert.equal(foreign.body.error.code, "report_site_mismatch");
    const tampered = structuredClone(report);
    tampered.inventory.components[0].artifacts[0].sha256 = "0".repeat(64);
    const mismatch = await post(siteId, tampered);
    assert.equal(mismatch.status, 409, mismatch.text);
    assert.equal(mismatch.body.error.code, "report_mismatch");
    assert.match(mismatch.body.error.message, /hello\/hello-1\.0\.0\.tar\.gz has sha256 0{64}/);
    const unknown = structuredClone(report);
    unknown.bundle.id = "f".repeat(64);
    assert.equal((await post(siteId, unknown)).body.error.code, "unknown_bundle");
    const site = await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token });
    assert.equal(site.body.installed, null, "nothing was recorded by refused reports");
  });

  it("records the installed release, the history and each database's script history; a second import changes nothing", async () => {
    // As an agent at a site with a database would report it (the hello service has none).
    const withDb = structuredClone(report);
    withDb.databases = [
      {
        component: "hello",
        database: "orders",
        dialect: "postgresql",
        history: [
          { installed_rank: 1, version: "1.0.0.1", description: "create orders", type: "SQL", filename: "V1.0.0.1__create_orders.sql", sha256: "a".repeat(64), component: "hello", release: "1.0.0", bundle_id: report.bundle.id, installed_by: "agent", installed_on: "2026-01-02T03:04:05.000Z", execution_time: 12, success: true },
          { installed_rank: 2, version: null, description: "views", type: "SQL", filename: "R__views.sql", sha256: "b".repeat(64), component: "hello", release: "1.0.0", bundle_id: report.bundle.id, installed_by: "agent", installed_on: "2026-01-02T03:04:06.000Z", execution_time: 3, success: true },
        ],
      },
    ];
    // Large reports go as application/octet-stream past the 1 MB JSON limit.
    const imported = await post(siteId, JSON.stringify(withDb), { "content-type": "application/octet-stream" });
    assert.equal(imported.status, 201, imported.text);
    assert.deepEqual(imported.body, { result: "succeeded", bundle: report.bundle.id, installed: { product: "hello-suite", version: "1.0.0" }, scripts: 2, duplicate: false });
    const site = await server.call("GET", `/api/v1/sites/${siteId}`, { token: operator.token });
    assert.equal(site.body.installed.version, "1.0.0");
    assert.deepEqual(site.body.installed.components, [{ name: "hello", version: "1.0.0" }]);
    assert.match(site.text, /report-imported/);
    const scripts = await server.ctx.db.siteScript.findMany({ where: { siteId }, orderBy: { filename: "asc" } });
    assert.deepEqual(scripts.map((s) => `${s.database}:${s.orderVersion}:${s.filename}:${s.success}:${s.appliedAt.toISOString()}`), [
      "orders::R__views.sql:true:2026-01-02T03:04:06.000Z",
      "orders:1.0.0.1:V1.0.0.1__create_orders.sql:true:2026-01-02T03:04:05.000Z",
    ]);
    const again = await post(siteId, withDb);
    assert.equal(again.status, 200);
    assert.equal(again.body.duplicate, true);
    const events = await server.ctx.db.siteEvent.count({ where: { siteId, kind: "report-imported" } });
    assert.equal(events, 1);
  });
});
