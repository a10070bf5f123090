import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { open } from "../secrets/envelope.js";
import { WebhookService } from "./webhooks.service.js";
import { verifyWebhookSignature } from "./webhooks.signature.js";

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  raw: string;
  body: any;
  at: number;
}

/** A real HTTP receiver on loopback; `statuses[path]` lists the answers to give, in order (then 200). */
async function startReceiver() {
  const received: Received[] = [];
  const statuses: Record<string, number[]> = {};
  const waiters: Array<() => void> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      received.push({ path: req.url ?? "", headers: req.headers, raw, body: JSON.parse(raw), at: Date.now() });
      const status = statuses[req.url ?? ""]?.shift() ?? 200;
      res.writeHead(status).end(status === 200 ? "ok" : "nope");
      waiters.splice(0).forEach((wake) => wake());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    received,
    statuses,
    /** Resolves once `predicate` holds for the received requests, or fails after `ms`. */
    async waitFor(predicate: (all: Received[]) => boolean, ms = 15_000): Promise<void> {
      const deadline = Date.now() + ms;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`receiver: condition not met in ${ms} ms; got ${received.length} requests`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("webhooks", () => {
  let server: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    server = await startTestServer({ env: { FERRY_WEBHOOK_RETRY_BASE_MS: "100" } });
    receiver = await startReceiver();
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  const register = (body: unknown, token = server.admin.token) => server.call("POST", "/api/v1/webhooks", { token, body });
  const deliveries = async (id: string) => (await server.call("GET", `/api/v1/webhooks/${id}/deliveries`, { token: server.admin.token })).body.items;

  it("only admins register webhooks, and bad input changes nothing", async () => {
    const delivery = await server.user(["delivery", "operator"]);
    assert.equal((await register({ url: `${receiver.base}/x`, events: ["release.sealed"] }, delivery.token)).status, 403);
    for (const body of [
      { url: "ftp://127.0.0.1/x", events: ["release.sealed"] },
      { url: "file:///etc/passwd", events: ["release.sealed"] },
      { url: "not a url", events: ["release.sealed"] },
      { url: `${receiver.base}/x`, events: ["release.exploded"] },
      { url: `${receiver.base}/x`, events: [] },
      { url: `${receiver.base}/x`, events: ["release.sealed"], secret: "short" },
      { url: `${receiver.base}/x`, events: ["release.sealed"], extra: true },
    ]) {
      const response = await register(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.error.code, "validation_failed");
    }
    const list = await server.call("GET", "/api/v1/webhooks", { token: server.admin.token });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.items, []);
    assert.equal((await server.call("GET", "/api/v1/webhooks", { token: delivery.token })).status, 403);
  });

  it("generates a secret when none is given, shows it once and stores it encrypted", async () => {
    const created = await register({ url: `${receiver.base}/generated`, events: ["sql.approved"] });
    assert.equal(created.status, 201);
    const secret: string = created.body.secret;
    assert.match(secret, /^whsec_[A-Za-z0-9_-]{40,}$/);
    const list = await server.call("GET", "/api/v1/webhooks", { token: server.admin.token });
    assert.ok(!list.text.includes(secret));
    assert.deepEqual(list.body.items.map((w: { id: string }) => w.id), [created.body.id]);
    assert.equal(list.body.items[0].secret, undefined);
    const [row] = await server.ctx.db.$queryRaw<Array<{ secret: string }>>`SELECT secret FROM "Webhook" WHERE id = ${created.body.id}`;
    assert.ok(!row!.secret.includes(secret));
    assert.equal(open(server.ctx.secrets.secretKey, row!.secret), secret);
    assert.equal((await server.call("DELETE", `/api/v1/webhooks/${created.body.id}`, { token: server.admin.token })).status, 204);
  });

  it("delivers a signed event, retries after a 500, and skips webhooks not subscribed to it", async () => {
    const secret = "test-secret-0123456789";
    const hook = await register({ url: `${receiver.base}/sealed`, events: ["release.sealed"], secret });
    assert.equal(hook.status, 201);
    assert.equal(hook.body.secret, secret);
    const other = await register({ url: `${receiver.base}/other`, events: ["sql.rejected"], secret });
    receiver.statuses["/sealed"] = [500];

    await server.ctx.events.emit("release.sealed", { product: "shop", version: "1.2.0", digest: "sha256:abc" });
    await receiver.waitFor((all) => all.filter((r) => r.path === "/sealed").length === 2);

    const attempts = receiver.received.filter((r) => r.path === "/sealed");
    for (const request of attempts) {
      assert.equal(request.headers["content-type"], "application/json");
      assert.equal(request.headers["x-ferry-event"], "release.sealed");
      assert.ok(verifyWebhookSignature(secret, request.raw, request.headers["x-ferry-signature"] as string));
      assert.ok(!verifyWebhookSignature("another-secret-xyz", request.raw, request.headers["x-ferry-signature"] as string));
      assert.equal(request.body.event, "release.sealed");
      assert.deepEqual(request.body.data, { product: "shop", version: "1.2.0", digest: "sha256:abc" });
    }
    // A retry is the same delivery with the same bytes.
    assert.equal(attempts[0]!.headers["x-ferry-delivery"], attempts[1]!.headers["x-ferry-delivery"]);
    assert.equal(attempts[0]!.raw, attempts[1]!.raw);
    assert.equal(attempts[0]!.body.id, attempts[0]!.headers["x-ferry-delivery"]);

    let items = await deliveries(hook.body.id);
    for (let i = 0; i < 50 && items[0]?.status !== "delivered"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      items = await deliveries(hook.body.id);
    }
    assert.equal(items.length, 1);
    assert.equal(items[0].status, "delivered");
    assert.equal(items[0].attempts, 2);
    assert.equal(items[0].lastStatus, 200);
    assert.equal(receiver.received.filter((r) => r.path === "/other").length, 0);
    assert.deepEqual(await deliveries(other.body.id), []);
  });

  it("delivers sql.submitted when a SQL script is uploaded through the API", async () => {
    const secret = "sql-hook-secret-0123456789";
    const hook = await register({ url: `${receiver.base}/sql`, events: ["sql.submitted"], secret });
    const ci = await server.user(["ci"]);
    const upload = await fetch(`${server.url}/api/v1/artifacts/orders-db/1.0.0/V1__create_orders.sql`, {
      method: "PUT",
      headers: { authorization: `Bearer ${ci.token}`, "x-artifact-kind": "sql", "x-sql-database": "orders", "x-sql-dialect": "postgresql" },
      body: "CREATE TABLE orders (id bigint primary key);\n",
    });
    assert.equal(upload.status, 201, await upload.text());
    await receiver.waitFor((all) => all.some((r) => r.path === "/sql"));
    const request = receiver.received.find((r) => r.path === "/sql")!;
    assert.equal(request.headers["x-ferry-event"], "sql.submitted");
    assert.ok(verifyWebhookSignature(secret, request.raw, request.headers["x-ferry-signature"] as string));
    assert.equal(request.body.data.component, "orders-db");
    assert.equal(request.body.data.filename, "V1__create_orders.sql");
    assert.equal(request.body.data.uploadedBy, ci.username);
    assert.equal((await deliveries(hook.body.id)).length, 1);
  });

  it("marks a delivery failed after five refused attempts, with backoff between them", async () => {
    const hook = await register({ url: `${receiver.base}/down`, events: ["bundle.ready"] });
    receiver.statuses["/down"] = [503, 503, 503, 503, 503];
    await server.ctx.events.emit("bundle.ready", { id: "b1" });
    await receiver.waitFor((all) => all.filter((r) => r.path === "/down").length === 5);
    let items = await deliveries(hook.body.id);
    for (let i = 0; i < 50 && items[0]?.status !== "failed"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      items = await deliveries(hook.body.id);
    }
    assert.equal(items[0].status, "failed");
    assert.equal(items[0].attempts, 5);
    assert.equal(items[0].lastStatus, 503);
    assert.match(items[0].lastError, /HTTP 503/);
    // Backoff 100, 200, 400, 800 ms: the attempts spread over at least 1.5 s.
    const times = receiver.received.filter((r) => r.path === "/down").map((r) => r.at);
    for (let i = 1; i < times.length; i++) assert.ok(times[i]! - times[i - 1]! >= 100 * 2 ** (i - 1) - 20, `gap before attempt ${i + 1}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.received.filter((r) => r.path === "/down").length, 5, "no attempt after giving up");
  });

  it("never fails the caller: emit resolves even when the payload cannot be stored", async () => {
    await register({ url: `${receiver.base}/circular`, events: ["deployment.finished"] });
    const circular: Record<string, unknown> = { id: "d1" };
    circular.self = circular;
    await server.ctx.events.emit("deployment.finished", circular);
    assert.equal(await server.ctx.db.webhookDelivery.count({ where: { event: "deployment.finished" } }), 0);
  });

  it("delivers each event exactly once when several processes run the delivery loop", async () => {
    const hook = await register({ url: `${receiver.base}/shared`, events: ["sql.approved"] });
    // Pause this server's loop so the deliveries pile up, then let three loops over the
    // same database (standing in for three server processes) race for all of them.
    await server.ctx.webhooks.stop();
    const count = 30;
    await Promise.all(Array.from({ length: count }, (_, i) => server.ctx.events.emit("sql.approved", { script: i })));
    const loops = [1, 2, 3].map(() => new WebhookService(server.ctx.db, server.ctx.secrets.secretKey, server.ctx.logger, { pollMs: 20, retryBaseMs: 100 }));
    loops.forEach((loop) => loop.start());
    try {
      await receiver.waitFor((all) => all.filter((r) => r.path === "/shared").length >= count);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const got = receiver.received.filter((r) => r.path === "/shared");
      assert.equal(got.length, count);
      assert.equal(new Set(got.map((r) => r.headers["x-ferry-delivery"])).size, count);
      assert.deepEqual(got.map((r) => r.body.data.script).sort((a, b) => a - b), Array.from({ length: count }, (_, i) => i));
      const items = await server.ctx.db.webhookDelivery.findMany({ where: { webhookId: hook.body.id } });
      assert.ok(items.every((d) => d.status === "delivered" && d.attempts === 1));
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
      server.ctx.webhooks.start();
    }
  });

  it("deletes a webhook with its deliveries", async () => {
    const hook = await register({ url: `${receiver.base}/gone`, events: ["release.sealed"] });
    const viewer = await server.user(["viewer"]);
    assert.equal((await server.call("DELETE", `/api/v1/webhooks/${hook.body.id}`, { token: viewer.token })).status, 403);
    assert.equal((await server.call("DELETE", `/api/v1/webhooks/${hook.body.id}`, { token: server.admin.token })).status, 204);
    assert.equal((await server.call("DELETE", `/api/v1/webhooks/${hook.body.id}`, { token: server.admin.token })).status, 404);
    assert.equal((await server.call("GET", `/api/v1/webhooks/${hook.body.id}/deliveries`, { token: server.admin.token })).status, 404);
    assert.equal((await server.call("DELETE", "/api/v1/webhooks/not-a-uuid", { token: server.admin.token })).status, 400);
  });
});
