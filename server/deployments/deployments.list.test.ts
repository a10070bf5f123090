/**
 * GET /deployments pages with keyset cursors: a walk in small pages sees every deployment
 * exactly once, newest first (ties on creation time broken by id), with the site and status
 * filters applied on every page; a cursor the server did not return is 400. The rows are
 * written straight to the database: running that many real deployments would only slow
 * the test (deployments.test.ts runs real ones).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { assertCursorsRefused, assertEachOnce, BAD_TIME_ID_CURSORS, walkPages } from "../../test/support/paging.js";

let server: TestServer;
const sites: string[] = [];
const rows: Array<{ id: string; siteId: string; status: string }> = [];
const STATUSES = ["succeeded", "failed", "rolled_back", "cancelled"];

before(async () => {
  server = await startTestServer();
  const token = server.admin.token;
  assert.equal((await server.call("POST", "/api/v1/customers", { token, body: { name: "paging-co" } })).status, 201);
  for (const name of ["east", "west"]) {
    const site = await server.call("POST", "/api/v1/customers/paging-co/sites", { token, body: { name, environment: "prod", platform: "vm", connectivity: "agent" } });
    assert.equal(site.status, 201, site.text);
    sites.push(site.body.id);
  }
  const sameTime = new Date(Date.now() - 7_200_000);
  for (let i = 0; i < 21; i++) {
    // A third of them share one creation time: the id orders those.
    const createdAt = i % 3 === 0 ? sameTime : new Date(sameTime.getTime() + i * 1000);
    rows.push({ id: randomUUID(), siteId: sites[i % 2]!, status: STATUSES[i % STATUSES.length]! });
    await server.ctx.db.deployment.create({
      data: { ...rows[i]!, product: "shop", version: `1.0.${i}`, kind: "install", transport: "agent", createdBy: "paging-test", createdAt, finishedAt: createdAt },
    });
  }
});
after(async () => {
  await server?.close();
});

describe("deployments list paging", () => {
  test("pages of 4 walk every deployment once, newest first", async () => {
    const seen = await walkPages(server, server.admin.token, "/api/v1/deployments", { limit: 4 });
    assertEachOnce(
      seen.map((d) => d.id),
      rows.map((r) => r.id),
      "deployments",
    );
    const keys = seen.map((d) => `${d.createdAt}|${d.id}`);
    assert.deepEqual(keys, [...keys].sort().reverse(), "newest first, then by id");
  });

  test("filters hold on every page", async () => {
    const site = sites[1]!;
    const bySite = await walkPages(server, server.admin.token, `/api/v1/deployments?site=${site}`, { limit: 2 });
    assertEachOnce(
      bySite.map((d) => d.id),
      rows.filter((r) => r.siteId === site).map((r) => r.id),
      "one site's deployments",
    );
    const failed = await walkPages(server, server.admin.token, "/api/v1/deployments?status=failed", { limit: 1 });
    assertEachOnce(
      failed.map((d) => d.id),
      rows.filter((r) => r.status === "failed").map((r) => r.id),
      "failed deployments",
    );
  });

  test("a cursor the server did not return is 400", async () => {
    await assertCursorsRefused(server, server.admin.token, "/api/v1/deployments", [...BAD_TIME_ID_CURSORS, "x".repeat(301)]);
    await assertCursorsRefused(server, server.admin.token, `/api/v1/deployments?site=${sites[0]}`, BAD_TIME_ID_CURSORS.slice(0, 3));
  });
});
