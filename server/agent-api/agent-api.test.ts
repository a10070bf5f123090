/**
 * Heartbeats against a real server: what the site row records and when (the last-seen
 * resolution), many heartbeats served together (one statement per batch), and site-token
 * revocation taking effect at once on this server and, on PostgreSQL, on a second server
 * sharing the database while that one is busy with heartbeats.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, testProfile, type TestServer, type TestUser } from "../../test/support/server.js";
import { createSite } from "../deployments/deployments.fixtures.js";
import { LAST_SEEN_RESOLUTION_MS } from "./agent-checkin.js";

let server: TestServer;
let operator: TestUser;

const heartbeat = (token: string, body: Record<string, unknown> = { agentVersion: "1.0.0", inventory: {} }, on: TestServer = server) =>
  on.call("POST", "/api/v1/agent/heartbeat?wait=0", { token, body });

async function agentRow(siteId: string) {
  return server.ctx.db.site.findUniqueOrThrow({ where: { id: siteId }, select: { agentVersion: true, agentLastSeenAt: true, inventory: true, updatedAt: true } });
}

before(async () => {
  server = await startTestServer();
  operator = await server.user(["operator"]);
});
after(async () => {
  await server?.close();
});

describe("agent heartbeats", () => {
  it("records version and inventory; last seen moves once it is older than the resolution, or when anything else changes", async () => {
    const site = await createSite(server, operator, "acme", { name: "seen", connectivity: "agent" });
    const token = site.agentToken!;
    const detail = async () => (await server.call("GET", `/api/v1/sites/${site.id}`, { token: operator.token })).body;
    assert.equal((await detail()).agent.lastSeenAt, null);

    const inventory = { components: [{ name: "orders-api", version: "2.4.0" }], host: { cpus: 8 } };
    assert.equal((await heartbeat(token, { agentVersion: "1.0.0", inventory })).status, 204);
    const first = await agentRow(site.id);
    assert.equal(first.agentVersion, "1.0.0");
    assert.deepEqual(first.inventory, inventory);
    assert.ok(first.agentLastSeenAt && Math.abs(Date.now() - first.agentLastSeenAt.getTime()) < 60_000);
    const shown = await detail();
    assert.equal(shown.agent.online, true);
    assert.equal(shown.agent.version, "1.0.0");

    // Nothing new inside the window: the row is not written (the same JSON in another key order is the same inventory).
    assert.equal((await heartbeat(token, { agentVersion: "1.0.0", inventory: { host: { cpus: 8 }, components: [{ version: "2.4.0", name: "orders-api" }] } })).status, 204);
    const second = await agentRow(site.id);
    assert.equal(second.agentLastSeenAt!.getTime(), first.agentLastSeenAt!.getTime());
    assert.equal(second.updatedAt.getTime(), first.updatedAt.getTime(), "telemetry does not touch the site's updatedAt");

    // Once last seen is older than the resolution, the next heartbeat moves it.
    const old = new Date(Date.now() - LAST_SEEN_RESOLUTION_MS - 1_000);
    await server.ctx.db.site.update({ where: { id: site.id }, data: { agentLastSeenAt: old } });
    assert.equal((await heartbeat(token, { agentVersion: "1.0.0", inventory })).status, 204);
    const third = await agentRow(site.id);
    assert.ok(third.agentLastSeenAt!.getTime() > old.getTime() + LAST_SEEN_RESOLUTION_MS / 2, `last seen ${third.agentLastSeenAt!.toISOString()} did not move`);

    // A new inventory or agent version is written at once, with last seen.
    const changed = { ...inventory, components: [{ name: "orders-api", version: "2.5.0" }] };
    assert.equal((await heartbeat(token, { agentVersion: "1.0.0", inventory: changed })).status, 204);
    const fourth = await agentRow(site.id);
    assert.deepEqual(fourth.inventory, changed);
    assert.ok(fourth.agentLastSeenAt!.getTime() >= third.agentLastSeenAt!.getTime());
    assert.equal((await heartbeat(token, { agentVersion: "1.1.0", inventory: changed })).status, 204);
    assert.equal((await agentRow(site.id)).agentVersion, "1.1.0");
  });

  it("answers and records many heartbeats arriving together, the same site twice included", async () => {
    const sites = [];
    for (let i = 0; i < 12; i++) sites.push(await createSite(server, operator, "acme", { name: `fleet-${i}`, connectivity: "agent" }));
    const beats = await Promise.all([
      ...sites.map((site, i) => heartbeat(site.agentToken!, { agentVersion: `2.0.${i}`, inventory: { n: i } })),
      heartbeat(sites[0]!.agentToken!, { agentVersion: "2.0.0", inventory: { n: 0 } }),
      heartbeat("frs_not-a-token", { agentVersion: "2.0.0", inventory: {} }),
    ]);
    assert.deepEqual(
      beats.map((beat) => beat.status),
      [...sites.map(() => 204), 204, 401],
    );
    for (const [i, site] of sites.entries()) {
      const row = await agentRow(site.id);
      assert.equal(row.agentVersion, `2.0.${i}`);
      assert.deepEqual(row.inventory, { n: i });
    }
  });

  it("a rotated agent token is refused from the next request on", async () => {
    const site = await createSite(server, operator, "acme", { name: "rotated-here", connectivity: "agent" });
    assert.equal((await heartbeat(site.agentToken!)).status, 204);
    const rotated = await server.call("POST", `/api/v1/sites/${site.id}/agent-token`, { token: operator.token });
    assert.equal(rotated.status, 201, rotated.text);
    const refused = await heartbeat(site.agentToken!);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error.code, "unauthorized");
    assert.equal((await heartbeat(rotated.body.agentToken)).status, 204);
  });

  it(
    "a token rotated through one server is refused by another, busy one at once",
    { skip: testProfile !== "production" && "two servers need a shared PostgreSQL (production profile)" },
    async () => {
      const other = await startTestServer({ env: { DATABASE_URL: server.ctx.config.DATABASE_URL! } });
      try {
        const site = await createSite(server, operator, "acme", { name: "rotated-elsewhere", connectivity: "agent" });
        const oldToken = site.agentToken!;
        assert.equal((await heartbeat(oldToken, undefined, other)).status, 204);

        // Keep the other server busy with the old token (batches in flight all the time) while rotating.
        const answers: Array<{ sentAt: number; status: number }> = [];
        let rotatedAt = Infinity;
        let stopAt = Infinity;
        const worker = async () => {
          while (Date.now() < stopAt) {
            const sentAt = Date.now();
            const { status } = await heartbeat(oldToken, undefined, other);
            answers.push({ sentAt, status });
          }
        };
        const workers = Array.from({ length: 8 }, worker);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const rotated = await server.call("POST", `/api/v1/sites/${site.id}/agent-token`, { token: operator.token });
        assert.equal(rotated.status, 201, rotated.text);
        rotatedAt = Date.now();
        stopAt = rotatedAt + 500;
        await Promise.all(workers);

        const before = answers.filter((a) => a.sentAt < rotatedAt);
        const afterwards = answers.filter((a) => a.sentAt > rotatedAt);
        assert.ok(before.some((a) => a.status === 204), "the old token worked before the rotation");
        assert.ok(afterwards.length > 0, "heartbeats were sent after the rotation");
        assert.deepEqual([...new Set(afterwards.map((a) => a.status))], [401], "every heartbeat sent after the rotation is refused");
        assert.equal((await heartbeat(rotated.body.agentToken, undefined, other)).status, 204);
      } finally {
        await other.close();
      }
    },
  );
});
