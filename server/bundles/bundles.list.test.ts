/**
 * GET /bundles pages with keyset cursors: a walk in small pages sees every bundle exactly
 * once, newest first (ties on creation time broken by id), with the site and status filters
 * applied on every page; a cursor the server did not return is 400. The rows are written
 * straight to the database: building that many real bundles would only slow the test.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { assertCursorsRefused, assertEachOnce, BAD_TIME_ID_CURSORS, walkPages } from "../../test/support/paging.js";

let server: TestServer;
const sites: string[] = [];
const rows: Array<{ id: string; siteId: string; status: string }> = [];

before(async () => {
  server = await startTestServer();
  const token = server.admin.token;
  assert.equal((await server.call("POST", "/api/v1/customers", { token, body: { name: "paging-co" } })).status, 201);
  for (const name of ["north", "south"]) {
    const site = await server.call("POST", "/api/v1/customers/paging-co/sites", { token, body: { name, environment: "prod", platform: "vm", connectivity: "offline" } });
    assert.equal(site.status, 201, site.text);
    sites.push(site.body.id);
  }
  const base = Date.now() - 3_600_000;
  for (let i = 0; i < 23; i++) {
    // Every fourth bundle shares its creation time with the one before.
    const createdAt = new Date(base + (i - (i % 4 === 3 ? 1 : 0)) * 1000);
    rows.push({ id: randomUUID(), siteId: sites[i % 2]!, status: i % 3 === 0 ? "failed" : "expired" });
    await server.ctx.db.bundle.create({
      data: { ...rows[i]!, requestKey: randomUUID(), product: "shop", version: `1.0.${i}`, components: [], createdBy: "paging-test", createdAt },
    });
  }
});
after(async () => {
  await server?.close();
});

describe("bundles list paging", () => {
  test("pages of 4 walk every bundle once, newest first", async () => {
    const seen = await walkPages(server, server.admin.token, "/api/v1/bundles", { limit: 4 });
    assertEachOnce(
      seen.map((b) => b.id),
      rows.map((r) => r.id),
      "bundles",
    );
    const keys = seen.map((b) => `${b.createdAt}|${b.id}`);
    assert.deepEqual(keys, [...keys].sort().reverse(), "newest first, then by id");
  });

  test("filters hold on every page", async () => {
    const site = sites[0]!;
    const bySite = await walkPages(server, server.admin.token, `/api/v1/bundles?site=${site}`, { limit: 3 });
    assertEachOnce(
      bySite.map((b) => b.id),
      rows.filter((r) => r.siteId === site).map((r) => r.id),
      "one site's bundles",
    );
    const failed = await walkPages(server, server.admin.token, `/api/v1/bundles?site=${site}&status=failed`, { limit: 1 });
    assertEachOnce(
      failed.map((b) => b.id),
      rows.filter((r) => r.siteId === site && r.status === "failed").map((r) => r.id),
      "one site's failed bundles",
    );
  });

  test("the first page without a cursor keeps the old shape plus nextCursor", async () => {
    const page = await server.call("GET", "/api/v1/bundles?limit=200", { token: server.admin.token });
    assert.equal(page.status, 200);
    assert.equal(page.body.items.length, rows.length);
    assert.equal(page.body.nextCursor, null);
    assert.equal(page.body.items[0].release.product, "shop");
  });

  test("a cursor the server did not return is 400", async () => {
    await assertCursorsRefused(server, server.admin.token, "/api/v1/bundles", [...BAD_TIME_ID_CURSORS, "x".repeat(301)]);
  });
});
