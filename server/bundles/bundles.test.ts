/**
 * Bundles through the API on a real server: full bundles (verified offline with the agent's
 * verifier and the published key), determinism, reuse, parts, tar.gz, progress events,
 * the SQL gate, dependency closure, roles, images in the OCI layout, and the plan preview.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import { verifyBundle } from "../../agent/verify.js";
import { buildImage, layerTar, ociArchive } from "../images/images.fixtures.js";
import { BINARY, bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";

let server: TestServer;
let world: BundleWorld;
let publicKeyPem: string;
const work = mkdtempSync(path.join(tmpdir(), "ferry-bundles-"));
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

before(async () => {
  server = await startTestServer();
  world = await bundleWorld(server);
  publicKeyPem = await fetch(`${server.url}/api/v1/signing-key`).then((r) => r.text());
  // One sealed release shared by several tests: shop 1.0.0 = postgresql, redis, orders-api (+ SQL).
  await world.upload("postgresql", "16.4-s", "postgresql-16.4-linux-x64-binaries.tar.gz", "pg binaries", BINARY);
  await world.upload("redis", "7.2.5-s", "redis-7.2.5-linux-x64.tar.gz", "redis binaries", BINARY);
  await world.upload("orders-api", "1.0.0-s", "orders-api-1.0.0.tar.gz", Buffer.alloc(2 * 1024 * 1024 + 100, 1), BINARY);
  await world.uploadSql("orders-api", "1.0.0-s", "V1.0.0.1__create_orders.sql", "CREATE TABLE orders (id bigint primary key);", "shop");
  await world.approveAll();
  await world.release("shop", "1.0.0", [
    { name: "postgresql", version: "16.4-s" },
    { name: "redis", version: "7.2.5-s" },
    { name: "orders-api", version: "1.0.0-s" },
  ]);
});
after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

async function built(body: Record<string, unknown>) {
  const requested = await world.request(body);
  assert.ok(requested.status === 202 || requested.status === 200, requested.text);
  return world.waitReady(requested.body.id);
}

async function downloaded(id: string, name: string, part?: number): Promise<string> {
  const file = path.join(work, name);
  await world.download(id, file, part);
  return file;
}

describe("bundles", () => {
  it("builds a full bundle that verifies offline, with progress, manifest and download headers", async () => {
    const site = await world.site("acme", "hq");
    const requested = await world.request({ site, release: { product: "shop", version: "1.0.0" } });
    assert.equal(requested.status, 202, requested.text);
    assert.equal(requested.body.mode, "full");
    const bundle = await world.waitReady(requested.body.id);
    assert.equal(bundle.progress.bytesDone, bundle.progress.bytesTotal);
    assert.equal(bundle.progress.filesDone, bundle.progress.filesTotal);
    assert.ok(bundle.progress.filesTotal >= 10);
    assert.equal(bundle.manifest.format, "ferry-bundle/v1");
    assert.equal(bundle.manifest.folder, "acme-hq_shop-1.0.0");
    assert.deepEqual(bundle.manifest.sql[0].scripts.map((s: { path: string }) => s.path), ["sql/shop/0001_V1.0.0.1__create_orders.sql"]);

    const file = await downloaded(bundle.id, "full.tar");
    assert.equal(sha256(readFileSync(file)), bundle.sha256);
    const report = await verifyBundle(file, { publicKeyPem });
    assert.deepEqual(report.problems, []);
    assert.equal(report.signature, "valid");
    const unsigned = await verifyBundle(file);
    assert.equal(unsigned.ok, true);
    assert.equal(unsigned.signature, "not checked");

    const ranged = await fetch(`${server.url}/api/v1/bundles/${bundle.id}/download`, { headers: { authorization: `Bearer ${world.delivery.token}`, range: "bytes=0-511" } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers.get("etag"), `"${bundle.sha256}"`);
    assert.equal(ranged.headers.get("x-checksum-sha256"), bundle.sha256);
    assert.deepEqual(Buffer.from(await ranged.arrayBuffer()), readFileSync(file).subarray(0, 512));
    const shown = await server.call("GET", `/api/v1/bundles/${bundle.id}`, { token: world.delivery.token });
    assert.ok(shown.body.lastDownloadedAt);
    const listed = await server.call("GET", `/api/v1/bundles?site=${site}`, { token: world.delivery.token });
    assert.deepEqual(listed.body.items.map((b: { id: string }) => b.id), [bundle.id]);
  });

  it("is deterministic: a rebuild, a split and a gzip of the same request carry the same tar bytes", async () => {
    const site = await world.site("acme", "determinism");
    const first = await built({ site, release: { product: "shop", version: "1.0.0" } });
    const again = await world.request({ site, release: { product: "shop", version: "1.0.0" } });
    assert.equal(again.status, 200, "an identical request reuses the ready bundle");
    assert.equal(again.body.id, first.id);
    assert.equal(again.body.reused, true);

    // Force a real rebuild: drop the first row, request again.
    await server.ctx.db.bundle.delete({ where: { id: first.id } });
    const rebuilt = await built({ site, release: { product: "shop", version: "1.0.0" } });
    assert.notEqual(rebuilt.id, first.id);
    assert.equal(rebuilt.sha256, first.sha256);

    const split = await built({ site, release: { product: "shop", version: "1.0.0" }, maxPartSize: 1024 * 1024 });
    assert.equal(split.sha256, first.sha256, "concatenated parts are the same tar");
    assert.equal(split.parts.length, Math.ceil(split.size / (1024 * 1024)));
    const parts: Buffer[] = [];
    for (const part of split.parts) {
      const bytes = readFileSync(await downloaded(split.id, `part-${part.index}`, part.index));
      assert.equal(sha256(bytes), part.sha256);
      assert.ok(bytes.length <= 1024 * 1024);
      parts.push(bytes);
    }
    assert.equal(sha256(Buffer.concat(parts)), first.sha256);
    assert.equal(sha256(readFileSync(await downloaded(split.id, "whole-of-parts.tar"))), first.sha256);

    const zipped = await built({ site, release: { product: "shop", version: "1.0.0" }, format: "tar.gz" });
    const gz = readFileSync(await downloaded(zipped.id, "bundle.tar.gz"));
    assert.equal(sha256(gz), zipped.sha256);
    assert.equal(sha256(gunzipSync(gz)), first.sha256);
    assert.equal((await verifyBundle(path.join(work, "bundle.tar.gz"), { publicKeyPem })).ok, true);

    // Changing one input (another site) changes the bytes.
    const other = await world.site("acme", "determinism-2");
    const different = await built({ site: other, release: { product: "shop", version: "1.0.0" } });
    assert.notEqual(different.sha256, first.sha256);
  });

  it("adds the dependsOn closure of a subset and reports it", async () => {
    const site = await world.site("acme", "subset");
    const requested = await world.request({ site, release: { product: "shop", version: "1.0.0" }, components: ["orders-api"] });
    assert.equal(requested.status, 202, requested.text);
    assert.deepEqual(requested.body.addedDependencies, ["postgresql", "redis"]);
    const redisOnly = await world.request({ site, release: { product: "shop", version: "1.0.0" }, components: ["redis"] });
    assert.deepEqual(redisOnly.body.addedDependencies, []);
    const bundle = await world.waitReady(redisOnly.body.id);
    assert.deepEqual(bundle.manifest.components.map((c: { name: string }) => c.name), ["redis"]);
    assert.deepEqual(bundle.manifest.sql, []);
    const notInRelease = await world.request({ site, release: { product: "shop", version: "1.0.0" }, components: ["gateway"] });
    assert.equal(notInRelease.status, 400);
    assert.equal(notInRelease.body.error.code, "components_not_in_release");
  });

  it("refuses unapproved SQL (listing the scripts), drafts, bad input and wrong roles, creating nothing", async () => {
    const site = await world.site("acme", "refusals");
    await world.upload("orders-api", "2.0.0-u", "orders-api-2.0.0.tar.gz", "api 2", BINARY);
    await world.uploadSql("orders-api", "2.0.0-u", "V2.0.0.1__risky.sql", "ALTER TABLE orders ADD COLUMN note text;", "unapproved");
    await world.release("risky", "2.0.0", [{ name: "orders-api", version: "2.0.0-u" }]);
    await world.release("drafty", "1.0.0", [{ name: "orders-api", version: "2.0.0-u" }], { seal: false });
    const before = await server.ctx.db.bundle.count();

    const unapproved = await world.request({ site, release: { product: "risky", version: "2.0.0" } });
    assert.equal(unapproved.status, 409);
    assert.equal(unapproved.body.error.code, "unapproved_sql");
    assert.deepEqual(
      unapproved.body.error.details.scripts.map((s: { filename: string; status: string }) => `${s.filename}:${s.status}`),
      ["V2.0.0.1__risky.sql:pending"],
    );
    const draft = await world.request({ site, release: { product: "drafty", version: "1.0.0" } });
    assert.equal(draft.status, 409);
    assert.equal(draft.body.error.code, "release_not_sealed");
    assert.equal((await world.request({ site, release: { product: "shop", version: "1.0.0" }, extra: 1 })).status, 400);
    assert.equal((await world.request({ site, release: { product: "shop", version: "1.0.0" }, format: "zip" })).status, 400);
    assert.equal((await world.request({ site, release: { product: "shop", version: "1.0.0" }, maxPartSize: 10 })).status, 400);
    const nothingInstalled = await world.request({ site, release: { product: "shop", version: "1.0.0" }, from: "installed" });
    assert.equal(nothingInstalled.status, 409);
    assert.equal(nothingInstalled.body.error.code, "nothing_installed");
    const viewer = await server.user(["viewer"]);
    const forbidden = await server.call("POST", "/api/v1/bundles", { token: viewer.token, body: { site, release: { product: "shop", version: "1.0.0" } } });
    assert.equal(forbidden.status, 403);
    assert.equal(await server.ctx.db.bundle.count(), before);
  });

  it("streams progress as server-sent events until ready", async () => {
    const site = await world.site("acme", "events");
    const requested = await world.request({ site, release: { product: "shop", version: "1.0.0" } });
    const response = await fetch(`${server.url}/api/v1/bundles/${requested.body.id}/events`, { headers: { authorization: `Bearer ${world.delivery.token}` } });
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
    const text = await response.text();
    const events = [...text.matchAll(/^event: (\w+)\ndata: (.*)$/gm)].map((m) => ({ event: m[1], data: JSON.parse(m[2]!) }));
    assert.equal(events.at(-1)!.event, "ready");
    assert.equal(events.at(-1)!.data.sha256.length, 64);
  });

  it("carries images in one OCI layout with a shared layer stored once", async () => {
    const base = await layerTar({ "etc/os-release": "ID=ferry-base\n" });
    const apiImage = buildImage([base, await layerTar({ "app/api.jar": "api" })], { label: "api" });
    const gatewayImage = buildImage([base, await layerTar({ "app/gateway.jar": "gw" })], { label: "gw" });
    await world.upload("orders-api", "3.0.0-i", "orders-api-3.0.0.oci.tar", await ociArchive(apiImage, "orders-api:3.0.0"), { "x-artifact-kind": "image" });
    await world.upload("orders-api", "3.0.0-i", "orders-api-3.0.0.tar.gz", "api 3", BINARY);
    await world.upload("redis", "7.2.5-i", "redis-7.2.5-linux-x64.tar.gz", "redis", BINARY);
    await world.upload("postgresql", "16.4-i", "postgresql-16.4-linux-x64-binaries.tar.gz", "pg", BINARY);
    await world.upload("orders-web", "3.0.0-i", "orders-web-3.0.0.tar.gz", "web", BINARY);
    await world.upload("gateway", "3.0.0-i", "gateway-3.0.0.oci.tar", await ociArchive(gatewayImage, "gateway:3.0.0"), { "x-artifact-kind": "image" });
    await world.upload("gateway", "3.0.0-i", "gateway-3.0.0.tar.gz", "gw", BINARY);
    await world.release("imaged", "3.0.0", [
      { name: "postgresql", version: "16.4-i" },
      { name: "redis", version: "7.2.5-i" },
      { name: "orders-api", version: "3.0.0-i" },
      { name: "orders-web", version: "3.0.0-i" },
      { name: "gateway", version: "3.0.0-i" },
    ]);
    const site = await world.site("acme", "containers", "docker");
    const bundle = await built({ site, release: { product: "imaged", version: "3.0.0" } });
    const paths = bundle.manifest.files.map((f: { path: string }) => f.path) as string[];
    const baseHex = sha256(apiImage.layers[0]!.bytes);
    assert.equal(paths.filter((p) => p === `images/blobs/sha256/${baseHex}`).length, 1);
    assert.ok(paths.includes("images/index.json") && paths.includes("images/oci-layout"));
    assert.ok(!paths.some((p) => p.endsWith(".oci.tar")), "image archives travel as the OCI layout, not as files");
    assert.deepEqual(bundle.manifest.images.map((i: { ref: string }) => i.ref).sort(), ["gateway:3.0.0", "orders-api:3.0.0"]);
    const file = await downloaded(bundle.id, "imaged.tar");
    assert.equal((await verifyBundle(file, { publicKeyPem })).ok, true);
  });

  it("fails a bundle whose every build attempt died with its process, instead of leaving it building", async () => {
    const site = await world.site("acme", "abandoned");
    const db = server.ctx.db;
    // As three killed builder processes leave it: the row building, its job claimed three
    // times, the last lease long expired.
    const bundle = await db.bundle.create({
      data: { requestKey: `abandoned-${Date.now()}`, siteId: site, product: "shop", version: "1.0.0", components: [], status: "building", createdBy: "test" },
    });
    await db.job.create({
      data: { type: "bundle.build", payload: { bundleId: bundle.id }, status: "running", attempts: 3, lockedBy: "dead", lockedAt: new Date(Date.now() - 10 * 60_000) },
    });
    const deadline = Date.now() + 60_000;
    let shown: { status: string; error: string | null } | undefined;
    while (Date.now() < deadline) {
      const response = await fetch(`${server.url}/api/v1/bundles/${bundle.id}`, { headers: { authorization: `Bearer ${world.delivery.token}` } });
      shown = await response.json();
      if (shown?.status !== "building") break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(shown?.status, "failed");
    assert.match(shown?.error ?? "", /stopped 3 times without finishing it/);
  });

  it("previews a plan without changing anything", async () => {
    const site = await world.site("acme", "preview");
    const before = await server.ctx.db.bundle.count();
    const plan = await server.call("GET", `/api/v1/sites/${site}/plan?product=shop&version=1.0.0`, { token: world.delivery.token });
    assert.equal(plan.status, 200, plan.text);
    assert.equal(plan.body.mode, "full");
    assert.deepEqual(plan.body.components.map((c: { name: string; action: string }) => `${c.name}:${c.action}`), ["postgresql:install", "redis:install", "orders-api:install"]);
    assert.equal(plan.body.sql[0].scripts[0].filename, "V1.0.0.1__create_orders.sql");
    assert.equal(plan.body.bytes, 2 * 1024 * 1024 + 100 + "pg binaries".length + "redis binaries".length + "CREATE TABLE orders (id bigint primary key);".length);
    assert.equal(await server.ctx.db.bundle.count(), before);
    const missing = await server.call("GET", `/api/v1/sites/${site}/plan?product=shop&version=9.9.9`, { token: world.delivery.token });
    assert.equal(missing.status, 404);
  });
});
