import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { releaseDigest } from "./releases.service.js";
import { compareVersions } from "./versions.js";

let server: TestServer;
let ci: TestUser;

before(async () => {
  // The sample catalog (./catalog) is what the server loads by default.
  server = await startTestServer();
  ci = await server.user(["ci"]);
});
after(async () => {
  await server?.close();
});

/** Uploads one artifact over HTTP, as CI would. */
async function upload(component: string, version: string, filename: string, content: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/v1/artifacts/${component}/${version}/${encodeURIComponent(filename)}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${ci.token}`, "content-type": "application/octet-stream", ...headers },
    body: content,
  });
  assert.ok(response.status === 201 || response.status === 200, `upload ${component}/${version}/${filename}: ${response.status} ${await response.text()}`);
}

const sqlHeaders = { "x-artifact-kind": "sql", "x-sql-database": "orders", "x-sql-dialect": "postgresql" };

/** A product whose every component version has artifacts; `product` keeps tests apart. */
async function seedBase(tag: string) {
  await upload("postgresql", `16.4-${tag}`, "postgresql-16.4-linux-x64-binaries.tar.gz", `pg ${tag}`, { "x-artifact-kind": "binary" });
  await upload("redis", `7.2.5-${tag}`, "redis-7.2.5-linux-x64.tar.gz", `redis ${tag}`, { "x-artifact-kind": "binary" });
  await upload("orders-api", `1.0.0-${tag}`, "orders-api-1.0.0.tar.gz", `api 1.0.0 ${tag}`, { "x-artifact-kind": "binary" });
}

const post = (path: string, body: unknown, token = ci.token) => server.call("POST", path, { token, body });

describe("releases", () => {
  it("refuses unknown components and components without artifacts, listing each", async () => {
    const unknown = await post("/api/v1/releases", { product: "shop", version: "0.1.0", components: [{ name: "billing", version: "1.0.0" }, { name: "redis", version: "1" }] });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.code, "unknown_components");
    assert.deepEqual(unknown.body.error.details.components, [{ name: "billing", version: "1.0.0" }]);

    await upload("redis", "7.2.4", "redis-7.2.4-linux-x64.tar.gz", "redis bytes", { "x-artifact-kind": "binary" });
    const missing = await post("/api/v1/releases", {
      product: "shop",
      version: "0.1.0",
      components: [{ name: "redis", version: "7.2.4" }, { name: "orders-api", version: "9.9.9" }, { name: "postgresql", version: "16.0" }],
    });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, "missing_artifacts");
    assert.deepEqual(missing.body.error.details.components, [{ name: "orders-api", version: "9.9.9" }, { name: "postgresql", version: "16.0" }]);
    assert.equal((await server.call("GET", "/api/v1/releases/shop/0.1.0", { token: ci.token })).status, 404, "nothing was created");

    const badVersion = await post("/api/v1/releases", { product: "shop", version: "1.0/2", components: [{ name: "redis", version: "7.2.4" }] });
    assert.equal(badVersion.status, 400);
    const viewer = await server.user(["viewer"]);
    assert.equal((await post("/api/v1/releases", { product: "shop", version: "0.1.0", components: [{ name: "redis", version: "7.2.4" }] }, viewer.token)).status, 403);
  });

  it("creates a draft in dependency order, edits it, seals it; sealed is immutable", async () => {
    await seedBase("a");
    const created = await post("/api/v1/releases", {
      product: "orders",
      version: "1.0.0",
      notes: "first",
      components: [{ name: "orders-api", version: "1.0.0-a" }, { name: "redis", version: "7.2.5-a" }],
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.status, "draft");
    assert.deepEqual(created.body.components.map((c: { name: string }) => c.name), ["redis", "orders-api"]);

    const patched = await server.call("PATCH", "/api/v1/releases/orders/1.0.0", {
      token: ci.token,
      body: { required: true, components: [{ name: "orders-api", version: "1.0.0-a" }, { name: "redis", version: "7.2.5-a" }, { name: "postgresql", version: "16.4-a" }] },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.required, true);
    assert.deepEqual(patched.body.components.map((c: { name: string }) => c.name), ["postgresql", "redis", "orders-api"]);

    const sealed = await post("/api/v1/releases/orders/1.0.0/seal", undefined);
    assert.equal(sealed.status, 200, sealed.text);
    assert.equal(sealed.body.status, "sealed");
    assert.match(sealed.body.digest, /^[0-9a-f]{64}$/);
    assert.ok(sealed.body.sealedAt);
    assert.equal(sealed.body.components[2].artifacts[0].filename, "orders-api-1.0.0.tar.gz");

    const again = await server.call("PATCH", "/api/v1/releases/orders/1.0.0", { token: ci.token, body: { notes: "changed" } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, "immutable");
    assert.equal((await post("/api/v1/releases/orders/1.0.0/seal", undefined)).body.error.code, "immutable");

    // A file uploaded later under a sealed component version does not join the release.
    await upload("orders-api", "1.0.0-a", "orders-api-1.0.0-extra.txt", "late");
    const shown = await server.call("GET", "/api/v1/releases/orders/1.0.0", { token: ci.token });
    assert.deepEqual(shown.body.components[2].artifacts.map((a: { filename: string }) => a.filename), ["orders-api-1.0.0.tar.gz"]);
    assert.equal(shown.body.digest, sealed.body.digest);

    const list = await server.call("GET", "/api/v1/releases?product=orders&limit=1", { token: ci.token });
    assert.equal(list.status, 200);
    assert.equal(list.body.items[0].version, "1.0.0");
  });

  it("the digest covers the exact artifact set: a different artifact gives a different digest", async () => {
    const digestOf = async (version: string, content: string) => {
      await upload("redis", `7.9.${version}`, "redis-7.9-linux-x64.tar.gz", content, { "x-artifact-kind": "binary" });
      const created = await post("/api/v1/releases", { product: "digest", version: `1.0.${version}`, components: [{ name: "redis", version: `7.9.${version}` }] });
      assert.equal(created.status, 201, created.text);
      return (await post(`/api/v1/releases/digest/1.0.${version}/seal`, undefined)).body.digest as string;
    };
    const one = await digestOf("1", "same bytes");
    const two = await digestOf("2", "same bytes");
    const three = await digestOf("3", "other bytes");
    assert.notEqual(one, two, "the digest names the component version");
    assert.notEqual(two, three);
  });

  it("diff lists exactly the changed components, artifacts and SQL scripts", async () => {
    await seedBase("d");
    await upload("orders-api", "1.0.0-d", "V1.0.0.1__create_orders.sql", "CREATE TABLE IF NOT EXISTS orders (id bigint primary key);", sqlHeaders);
    await upload("orders-api", "1.1.0-d", "orders-api-1.1.0.tar.gz", "api 1.1.0", { "x-artifact-kind": "binary" });
    await upload("orders-api", "1.1.0-d", "V1.0.0.1__create_orders.sql", "CREATE TABLE IF NOT EXISTS orders (id bigint primary key);", sqlHeaders);
    await upload("orders-api", "1.1.0-d", "V1.1.0.1__add_status.sql", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text;", sqlHeaders);
    await upload("orders-api", "1.1.0-d", "V1.1.0.2__index_status.sql", "CREATE INDEX IF NOT EXISTS orders_status ON orders (status);", sqlHeaders);
    await upload("orders-web", "1.1.0-d", "orders-web-1.1.0.tar.gz", "web", { "x-artifact-kind": "binary" });

    const base = [{ name: "postgresql", version: "16.4-d" }, { name: "redis", version: "7.2.5-d" }, { name: "orders-api", version: "1.0.0-d" }];
    assert.equal((await post("/api/v1/releases", { product: "diff", version: "1.0.0", components: base })).status, 201);
    assert.equal((await post("/api/v1/releases/diff/1.0.0/seal", undefined)).status, 200);
    const target = [{ name: "postgresql", version: "16.4-d" }, { name: "orders-api", version: "1.1.0-d" }, { name: "orders-web", version: "1.1.0-d" }];
    assert.equal((await post("/api/v1/releases", { product: "diff", version: "1.1.0", components: target })).status, 201);
    assert.equal((await post("/api/v1/releases/diff/1.1.0/seal", undefined)).status, 200);

    const diff = await server.call("GET", "/api/v1/releases/diff/1.1.0/diff?from=1.0.0", { token: ci.token });
    assert.equal(diff.status, 200, diff.text);
    assert.deepEqual(diff.body.components.added.map((c: { name: string }) => c.name), ["orders-web"]);
    assert.deepEqual(diff.body.components.removed, [{ name: "redis", version: "7.2.5-d" }]);
    assert.deepEqual(diff.body.components.unchanged, [{ name: "postgresql", version: "16.4-d" }]);
    assert.equal(diff.body.components.changed.length, 1);
    const api = diff.body.components.changed[0];
    assert.equal(api.name, "orders-api");
    assert.equal(api.from, "1.0.0-d");
    assert.equal(api.to, "1.1.0-d");
    // The renamed tarball pairs up through its catalog entry; the unchanged script is not listed.
    assert.deepEqual(api.artifacts.changed.map((c: { entry: string; from: { filename: string }; to: { filename: string } }) => [c.entry, c.from.filename, c.to.filename]), [
      ["tarball", "orders-api-1.0.0.tar.gz", "orders-api-1.1.0.tar.gz"],
    ]);
    assert.deepEqual(api.artifacts.added.map((a: { filename: string }) => a.filename).sort(), ["V1.1.0.1__add_status.sql", "V1.1.0.2__index_status.sql"]);
    assert.deepEqual(api.artifacts.removed, []);
    assert.equal(diff.body.sql.length, 1);
    assert.equal(diff.body.sql[0].database, "orders");
    assert.deepEqual(diff.body.sql[0].scripts.map((s: { filename: string }) => s.filename), ["V1.1.0.1__add_status.sql", "V1.1.0.2__index_status.sql"]);
    assert.equal(diff.body.sql[0].scripts[0].status, "pending");

    const missingBase = await server.call("GET", "/api/v1/releases/diff/1.1.0/diff?from=0.9.0", { token: ci.token });
    assert.equal(missingBase.status, 404);
  });

  it("orders versions semver-aware", () => {
    assert.ok(compareVersions("1.10.0", "1.9.0") > 0);
    assert.ok(compareVersions("2.0.0-rc.1", "2.0.0") < 0);
    assert.ok(compareVersions("2.4.0.10", "2.4.0.9") > 0);
    assert.equal(compareVersions("1.0", "1.0"), 0);
    // Identifiers compare in ASCII order (SemVer's rule), whatever the server's locale.
    assert.ok(compareVersions("1.0.0.B", "1.0.0.a") < 0);
    assert.ok(compareVersions("2.0.0-RC.1", "2.0.0-beta.1") < 0);
  });

  it("computes a release's digest from its set alone, not from the order it was read in", () => {
    const artifact = (component: string, filename: string, digit: string) => ({ component, version: "1.0.0", filename, sha256: digit.repeat(64) });
    // Collation calls the first two equal (U+200B is ignorable) and puts "App" after "app".
    const set = [artifact("api", "ab.bin", "1"), artifact("api", "a\u200Bb.bin", "2"), artifact("App", "x.bin", "3"), artifact("app", "x.bin", "4")];
    const digest = releaseDigest(set);
    assert.equal(releaseDigest([...set].reverse()), digest);
    assert.equal(releaseDigest([set[2]!, set[0]!, set[3]!, set[1]!]), digest);
  });
});
