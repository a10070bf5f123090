/**
 * Download links: a signed-in user asks for a link (access and existence checked then), and
 * the link alone streams the artifact or bundle (part) with Range and ETag until it expires.
 * A link names exactly one download: altered, re-signed with another key, expired, or used
 * as a bearer token elsewhere, it is refused; so is one whose user was disabled or whose API
 * token was revoked since. The access log never holds a whole ticket.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Writable } from "node:stream";
import { BINARY, bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { createLogger } from "../logger.js";
import { DownloadTickets } from "./downloads.tickets.js";

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk, _encoding, done) {
    logLines.push(chunk.toString("utf8"));
    done();
  },
});

let server: TestServer;
let world: BundleWorld;
let viewer: TestUser;
const content = Buffer.alloc(2 * 1024 * 1024 + 12_345, 7);
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

before(async () => {
  server = await startTestServer({ logger: createLogger("info", logSink) });
  world = await bundleWorld(server);
  viewer = await server.user(["viewer"]);
  await world.upload("redis", "7.2.5-dl", "redis-7.2.5.tar.gz", content, BINARY);
  await world.release("shop", "9.0.0", [{ name: "redis", version: "7.2.5-dl" }]);
});
after(async () => {
  await server?.close();
});

async function linkFor(path: string, token: string, body?: unknown) {
  return server.call("POST", `/api/v1${path}/download-link`, { token, body });
}

/** GET without any credentials. */
async function fetchLink(url: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}${url}`, { headers });
  return { response, bytes: Buffer.from(await response.arrayBuffer()) };
}

describe("artifact download links", () => {
  let url: string;

  test("a viewer gets a link that downloads the artifact without credentials, with Range and ETag", async () => {
    const created = await linkFor("/artifacts/redis/7.2.5-dl/redis-7.2.5.tar.gz", viewer.token);
    assert.equal(created.status, 201, created.text);
    url = created.body.url;
    assert.match(url, /^\/api\/v1\/downloads\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const expiresIn = new Date(created.body.expiresAt).getTime() - Date.now();
    assert.ok(expiresIn > 60_000 && expiresIn <= 5 * 60_000, `expires in ${expiresIn} ms`);

    const whole = await fetchLink(url);
    assert.equal(whole.response.status, 200);
    assert.equal(sha256(whole.bytes), sha256(content));
    assert.equal(whole.response.headers.get("x-checksum-sha256"), sha256(content));
    assert.match(whole.response.headers.get("content-disposition") ?? "", /^attachment; filename="?redis-7\.2\.5\.tar\.gz"?$/);

    const ranged = await fetchLink(url, { range: "bytes=100-199" });
    assert.equal(ranged.response.status, 206);
    assert.deepEqual(ranged.bytes, content.subarray(100, 200));
    const cached = await fetchLink(url, { "if-none-match": `"${sha256(content)}"` });
    assert.equal(cached.response.status, 304);
  });

  test("the link is checked when made: unknown artifact 404, no credentials 401", async () => {
    assert.equal((await linkFor("/artifacts/redis/7.2.5-dl/nope.tar.gz", viewer.token)).status, 404);
    const anonymous = await server.call("POST", "/api/v1/artifacts/redis/7.2.5-dl/redis-7.2.5.tar.gz/download-link");
    assert.equal(anonymous.status, 401);
  });

  test("an altered, foreign-keyed or expired ticket is refused; a ticket is no bearer token", async () => {
    const ticket = url.split("/").pop()!;
    const [body, signature] = ticket.split(".") as [string, string];
    // Another artifact named in the payload, the old signature kept.
    const payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
    payload.target.filename = "other.tar.gz";
    const retargeted = `${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${signature}`;
    const flipped = `${body}.${signature.slice(0, -2)}${signature.endsWith("AA") ? "BB" : "AA"}`;
    const foreign = new DownloadTickets("not-this-server's-secret").issue({ kind: "artifact", component: "redis", version: "7.2.5-dl", filename: "redis-7.2.5.tar.gz" }, "mallory", { userId: "mallory" }).ticket;
    for (const bad of [retargeted, flipped, foreign]) {
      const refused = await fetchLink(`/api/v1/downloads/${bad}`);
      assert.equal(refused.response.status, 403, bad);
      assert.equal(JSON.parse(refused.bytes.toString()).error.code, "invalid_download_link");
    }
    const past = new DownloadTickets(server.ctx.secrets.jwtSecret, 60_000, () => Date.now() - 120_000);
    const expired = past.issue({ kind: "artifact", component: "redis", version: "7.2.5-dl", filename: "redis-7.2.5.tar.gz" }, "viewer", { userId: "viewer" }).ticket;
    const gone = await fetchLink(`/api/v1/downloads/${expired}`);
    assert.equal(gone.response.status, 410);
    assert.equal(JSON.parse(gone.bytes.toString()).error.code, "download_link_expired");
    assert.equal((await fetchLink("/api/v1/downloads/not-a-ticket")).response.status, 400);

    // Only GET /downloads/:ticket takes it: not as a bearer token, not as a query parameter.
    const asBearer = await fetchLink("/api/v1/artifacts/redis/7.2.5-dl/redis-7.2.5.tar.gz", { authorization: `Bearer ${ticket}` });
    assert.equal(asBearer.response.status, 401);
    const asQuery = await fetchLink(`/api/v1/artifacts/redis/7.2.5-dl/redis-7.2.5.tar.gz?ticket=${ticket}`);
    assert.ok([400, 401].includes(asQuery.response.status), String(asQuery.response.status));
  });

  test("a link stops working once the API token it was asked with is revoked, or its user is disabled", async () => {
    const artifact = "/artifacts/redis/7.2.5-dl/redis-7.2.5.tar.gz";
    const reader = await server.user(["viewer"]);
    const created = await server.call("POST", "/api/v1/tokens", { token: reader.token, body: { name: "browser links", roles: ["viewer"] } });
    assert.equal(created.status, 201, created.text);
    const viaToken = await linkFor(artifact, created.body.token);
    const viaSession = await linkFor(artifact, reader.token);
    assert.equal(viaToken.status, 201, viaToken.text);
    assert.equal(viaSession.status, 201, viaSession.text);
    const status = async (link: string) => (await fetchLink(link, { range: "bytes=0-9" })).response.status;
    const refusal = async (link: string) => {
      const { response, bytes } = await fetchLink(link);
      assert.equal(response.status, 403);
      return JSON.parse(bytes.toString()).error.code;
    };
    assert.equal(await status(viaToken.body.url), 206);
    assert.equal(await status(viaSession.body.url), 206);

    assert.equal((await server.call("DELETE", `/api/v1/tokens/${created.body.id}`, { token: reader.token })).status, 204);
    assert.equal(await refusal(viaToken.body.url), "download_link_revoked");
    assert.equal(await status(viaSession.body.url), 206, "the user's other links are untouched");

    // No route disables a user yet; an administrator does it in the database.
    await server.ctx.database.prisma.user.update({ where: { username: reader.username }, data: { disabled: true } });
    assert.equal(await refusal(viaSession.body.url), "download_link_revoked");
    assert.equal(await status(url), 206, "links made for other users still work");
  });

  test("logs name the download but never hold a whole ticket", async () => {
    const ticket = url.split("/").pop()!;
    const logs = logLines.join("");
    assert.match(logs, /download link used/);
    assert.match(logs, /\/api\/v1\/downloads\//, "the access log shows the route");
    assert.ok(!logs.includes(ticket), "no whole ticket in the logs");
    assert.ok(!logs.includes(ticket.split(".")[1]!), "no ticket signature in the logs");
    const audit = await server.ctx.db.auditEvent.findMany({ where: { action: "artifact.download_link" } });
    assert.ok(audit.length >= 1);
    assert.ok(!JSON.stringify(audit, (_k, v) => (typeof v === "bigint" ? String(v) : v)).includes(ticket.split(".")[1]!), "no ticket in the audit trail");
  });
});

describe("bundle download links", () => {
  test("a link to a ready bundle, and to one part of a split bundle, downloads exactly those bytes", async () => {
    const site = await world.site("acme", "dl-site");
    const requested = await world.request({ site, release: { product: "shop", version: "9.0.0" }, maxPartSize: 1024 * 1024 });
    assert.ok(requested.status === 202 || requested.status === 200, requested.text);
    const notReady = await server.call("POST", `/api/v1/bundles/${requested.body.id}/download-link`, { token: viewer.token });
    if (notReady.status !== 201) assert.equal(notReady.body.error.code, "bundle_not_ready");
    const bundle = await world.waitReady(requested.body.id);
    assert.ok(bundle.parts.length >= 2, "split into parts");

    const whole = await server.call("POST", `/api/v1/bundles/${bundle.id}/download-link`, { token: viewer.token });
    assert.equal(whole.status, 201, whole.text);
    const got = await fetchLink(whole.body.url);
    assert.equal(got.response.status, 200);
    assert.equal(sha256(got.bytes), bundle.sha256);

    const part = await server.call("POST", `/api/v1/bundles/${bundle.id}/download-link`, { token: viewer.token, body: { part: 2 } });
    assert.equal(part.status, 201, part.text);
    const gotPart = await fetchLink(part.body.url);
    assert.equal(gotPart.response.status, 200);
    assert.equal(sha256(gotPart.bytes), bundle.parts[1].sha256);

    assert.equal((await server.call("POST", `/api/v1/bundles/${bundle.id}/download-link`, { token: viewer.token, body: { part: 99 } })).status, 404);
    assert.equal((await server.call("POST", `/api/v1/bundles/${bundle.id}/download-link`, { token: viewer.token, body: { part: 0 } })).status, 400);
  });
});
