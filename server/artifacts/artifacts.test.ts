import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync, existsSync } from "node:fs";
import path from "node:path";
import { startTestServer, testProfile, type TestServer, type TestUser } from "../../test/support/server.js";

let server: TestServer;
let ci: TestUser;
before(async () => {
  server = await startTestServer();
  ci = await server.user(["ci"]);
});
after(async () => {
  await server?.close();
});

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

async function put(urlPath: string, body: Buffer | string | undefined, headers: Record<string, string> = {}, token = ci.token) {
  const response = await fetch(`${server.url}/api/v1/artifacts/${urlPath}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", ...headers },
    body: typeof body === "string" || body === undefined ? body : new Uint8Array(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : undefined };
}

async function blobAndTempCounts(): Promise<{ blobs: number; temp: number }> {
  const blobs = await server.ctx.db.blob.count();
  const tmp = path.join(server.dataDir, "blobs", "tmp");
  const temp = testProfile === "embedded" && existsSync(tmp) ? readdirSync(tmp).length : 0;
  return { blobs, temp };
}

describe("upload with PUT", () => {
  test("a declared checksum is verified; the same content again is 200, other content 409", async () => {
    const content = Buffer.from("orders-api binary v1\n");
    const created = await put("orders-api/1.0.0/orders-api.jar", content, { "x-checksum-sha256": sha256(content) });
    assert.equal(created.status, 201);
    assert.equal(created.body.sha256, sha256(content));
    assert.equal(created.body.size, content.length);
    assert.equal(created.body.kind, "binary");
    assert.equal(created.body.uploadedBy, ci.username);
    assert.equal(created.headers.get("etag"), `"${sha256(content)}"`);

    const again = await put("orders-api/1.0.0/orders-api.jar", content);
    assert.equal(again.status, 200);
    const other = await put("orders-api/1.0.0/orders-api.jar", Buffer.from("different"));
    assert.equal(other.status, 409);
    assert.equal(other.body.error.code, "immutable");
    const otherDeclared = await put("orders-api/1.0.0/orders-api.jar", Buffer.from("different"), { "x-checksum-sha256": sha256("different") });
    assert.equal(otherDeclared.status, 409);
  });

  test("a wrong declared checksum is 400 checksum_mismatch and leaves no artifact, blob or temp file", async () => {
    const before = await blobAndTempCounts();
    const response = await put("orders-api/1.0.1/bad.bin", Buffer.alloc(300_000, 7), { "x-checksum-sha256": "0".repeat(64) });
    assert.equal(response.status, 400);
    assert.equal(response.body.error.code, "checksum_mismatch");
    assert.equal(await server.ctx.db.artifact.count({ where: { filename: "bad.bin" } }), 0);
    assert.deepEqual(await blobAndTempCounts(), before);
    assert.equal((await server.call("GET", "/api/v1/artifacts/orders-api/1.0.1/bad.bin", { token: ci.token })).status, 404);
  });

  test("X-Checksum-Deploy creates from a known blob without a body and is 404 for an unknown one", async () => {
    const content = Buffer.from("shared library bytes");
    await put("lib-a/2.0.0/common.so", content);
    const deployed = await put("lib-b/2.0.0/common.so", undefined, { "x-checksum-sha256": sha256(content), "x-checksum-deploy": "true" });
    assert.equal(deployed.status, 201);
    assert.equal(deployed.body.sha256, sha256(content));
    const unknown = await put("lib-b/2.0.0/other.so", undefined, { "x-checksum-sha256": sha256("never uploaded"), "x-checksum-deploy": "true" });
    assert.equal(unknown.status, 404);
    assert.equal(await server.ctx.db.artifact.count({ where: { component: "lib-b", filename: "other.so" } }), 0);
    assert.equal(await server.ctx.db.blob.count({ where: { sha256: sha256(content) } }), 1);
  });

  test("identical content under many coordinates is stored once", async () => {
    const content = Buffer.from("dedup me");
    for (const v of ["1.0.0", "1.0.1", "1.0.2"]) assert.equal((await put(`dedup/${v}/d.bin`, content)).status, 201);
    assert.equal(await server.ctx.db.blob.count({ where: { sha256: sha256(content) } }), 1);
  });

  test("a JSON file is stored as bytes, not parsed", async () => {
    const json = '{"a": 1,   "b": [true]}';
    const response = await put("config-pack/1.0.0/settings.json", json, { "content-type": "application/json", "x-artifact-kind": "config" });
    assert.equal(response.status, 201);
    assert.equal(response.body.sha256, sha256(json));
  });
});

describe("download", () => {
  const content = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  before(async () => {
    await put("dl/1.0.0/data.bin", content);
  });

  test("GET streams the bytes with ETag and checksum headers; HEAD has no body", async () => {
    const response = await fetch(`${server.url}/api/v1/artifacts/dl/1.0.0/data.bin`, { headers: { authorization: `Bearer ${ci.token}` } });
    assert.equal(response.status, 200);
    const body = Buffer.from(await response.arrayBuffer());
    assert.equal(sha256(body), sha256(content));
    assert.equal(response.headers.get("x-checksum-sha256"), sha256(content));
    assert.equal(response.headers.get("etag"), `"${sha256(content)}"`);
    assert.equal(response.headers.get("accept-ranges"), "bytes");
    const head = await fetch(`${server.url}/api/v1/artifacts/dl/1.0.0/data.bin`, { method: "HEAD", headers: { authorization: `Bearer ${ci.token}` } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(content.length));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });

  test("Range returns exactly those bytes; suffix ranges work; an unsatisfiable range is 416", async () => {
    const get = (range: string) => fetch(`${server.url}/api/v1/artifacts/dl/1.0.0/data.bin`, { headers: { authorization: `Bearer ${ci.token}`, range } });
    const middle = await get("bytes=1000-1999");
    assert.equal(middle.status, 206);
    assert.equal(middle.headers.get("content-range"), `bytes 1000-1999/${content.length}`);
    assert.deepEqual(Buffer.from(await middle.arrayBuffer()), content.subarray(1000, 2000));
    const suffix = await get("bytes=-10");
    assert.deepEqual(Buffer.from(await suffix.arrayBuffer()), content.subarray(content.length - 10));
    const open = await get("bytes=9990-");
    assert.deepEqual(Buffer.from(await open.arrayBuffer()), content.subarray(9990));
    const beyond = await get(`bytes=${content.length}-`);
    assert.equal(beyond.status, 416);
    assert.equal(beyond.headers.get("content-range"), `bytes */${content.length}`);
  });

  test("If-None-Match with the ETag is 304; /blobs/:sha256 serves the same bytes", async () => {
    const cached = await fetch(`${server.url}/api/v1/artifacts/dl/1.0.0/data.bin`, { headers: { authorization: `Bearer ${ci.token}`, "if-none-match": `"${sha256(content)}"` } });
    assert.equal(cached.status, 304);
    const blob = await fetch(`${server.url}/api/v1/blobs/${sha256(content)}`, { headers: { authorization: `Bearer ${ci.token}` } });
    assert.equal(blob.status, 200);
    assert.equal(sha256(Buffer.from(await blob.arrayBuffer())), sha256(content));
    assert.equal((await server.call("GET", `/api/v1/blobs/${"a".repeat(64)}`, { token: ci.token })).status, 404);
    assert.equal((await server.call("GET", "/api/v1/blobs/not-a-digest", { token: ci.token })).status, 400);
  });
});

describe("listing and deletion", () => {
  test("the list pages with a cursor and filters", async () => {
    for (const n of [1, 2, 3, 4, 5]) await put(`paged/1.0.0/file-${n}.bin`, `content ${n}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `component=paged&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await server.call("GET", `/api/v1/artifacts?${query}`, { token: ci.token });
      assert.equal(page.status, 200);
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((a: { filename: string }) => a.filename));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.deepEqual(seen, ["file-1.bin", "file-2.bin", "file-3.bin", "file-4.bin", "file-5.bin"]);
    const searched = await server.call("GET", "/api/v1/artifacts?q=FILE-3", { token: ci.token });
    assert.deepEqual(searched.body.items.map((a: { filename: string }) => a.filename), ["file-3.bin"]);
  });

  test("an artifact in a sealed release cannot be deleted; one outside its artifact set can", async () => {
    await put("redis/7.2.9/redis-7.2.9-linux-x64.tar.gz", "redis binary");
    const created = await server.call("POST", "/api/v1/releases", { token: ci.token, body: { product: "keep", version: "1.0.0", components: [{ name: "redis", version: "7.2.9" }] } });
    assert.equal(created.status, 201, created.text);
    assert.equal((await server.call("POST", "/api/v1/releases/keep/1.0.0/seal", { token: ci.token })).status, 200);
    const refused = await server.call("DELETE", "/api/v1/artifacts/redis/7.2.9/redis-7.2.9-linux-x64.tar.gz", { token: server.admin.token });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, "in_use");
    assert.deepEqual(refused.body.error.details.releases, [{ product: "keep", version: "1.0.0" }]);
    assert.equal((await server.call("GET", "/api/v1/artifacts/redis/7.2.9/redis-7.2.9-linux-x64.tar.gz", { token: ci.token })).status, 200);
    // Uploaded after sealing: not part of the release, so it may go.
    await put("redis/7.2.9/NOTES.txt", "late notes");
    assert.equal((await server.call("DELETE", "/api/v1/artifacts/redis/7.2.9/NOTES.txt", { token: server.admin.token })).status, 204);
  });

  test("only admins delete; a deleted artifact is gone", async () => {
    await put("gone/1.0.0/x.bin", "x");
    assert.equal((await server.call("DELETE", "/api/v1/artifacts/gone/1.0.0/x.bin", { token: ci.token })).status, 403);
    assert.equal((await server.call("DELETE", "/api/v1/artifacts/gone/1.0.0/x.bin", { token: server.admin.token })).status, 204);
    assert.equal((await server.call("GET", "/api/v1/artifacts/gone/1.0.0/x.bin", { token: ci.token })).status, 404);
  });
});

describe("multipart upload", () => {
  test("several files in one request, each hashed", async () => {
    const form = new FormData();
    form.append("component", "web-ui");
    form.append("version", "3.1.0");
    form.append("kind", "binary");
    form.append("file", new Blob(["<html>index</html>"]), "index.html");
    form.append("file", new Blob(["body{}"]), "site.css");
    const response = await fetch(`${server.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ci.token}` }, body: form });
    assert.equal(response.status, 201);
    const body = await response.json();
    assert.deepEqual(body.items.map((a: { filename: string; sha256: string }) => [a.filename, a.sha256]), [
      ["index.html", sha256("<html>index</html>")],
      ["site.css", sha256("body{}")],
    ]);
  });

  test("files before the fields are refused before anything is stored", async () => {
    const before = await blobAndTempCounts();
    const form = new FormData();
    form.append("file", new Blob(["early bytes"]), "early.bin");
    form.append("component", "web-ui");
    form.append("version", "3.2.0");
    const response = await fetch(`${server.url}/api/v1/artifacts`, { method: "POST", headers: { authorization: `Bearer ${ci.token}` }, body: form });
    assert.equal(response.status, 400);
    assert.equal((await response.json()).error.code, "fields_before_files");
    assert.deepEqual(await blobAndTempCounts(), before);
  });
});

describe("bad input gets a clear 4xx and changes nothing", () => {
  test("coordinates with traversal, control characters or bad names", async () => {
    const before = await server.ctx.db.artifact.count();
    for (const bad of ["..%2F..%2Fetc/1.0.0/passwd", "ok/1.0.0/..", "ok/1.0.0/.hidden", "Upper/1.0.0/a.bin", "ok/1.0.0/a%00b", "ok/1.0.0/a%0Ab", "ok/..%2F1/a.bin", `ok/1.0.0/${"a".repeat(300)}`]) {
      const response = await put(bad, "x");
      assert.ok(response.status === 400 || response.status === 404, `${bad}: ${response.status}`);
      if (response.status === 400) assert.equal(response.body.error.code, "validation_failed");
    }
    assert.equal(await server.ctx.db.artifact.count(), before);
  });

  test("malformed JSON, unknown fields and wrong types", async () => {
    const malformed = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: '{"name": "x", ' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, "malformed_json");
    const unknown = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: { name: "x", roles: ["ci"], admin: true } });
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.error.message, /admin/);
    const wrongType = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: { name: 42, roles: "ci" } });
    assert.equal(wrongType.status, 400);
    const badHeader = await put("ok/1.0.0/a.bin", "x", { "x-checksum-sha256": "xyz" });
    assert.equal(badHeader.status, 400);
    assert.equal(await server.ctx.db.apiToken.count({ where: { name: "x" } }), 0);
  });

  test("oversized headers get 431; an unknown route gets a JSON 404; errors never carry a stack", async () => {
    const huge = await fetch(`${server.url}/api/v1/artifacts`, { headers: { authorization: `Bearer ${ci.token}`, "x-filler": "a".repeat(40_000) } });
    assert.equal(huge.status, 431);
    const missing = await server.call("GET", "/api/v1/no-such-thing", { token: ci.token });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, "route_not_found");
    assert.ok(!/at .*\.ts:\d+/.test(missing.text));
  });

  test("anonymous requests are 401 with a Basic challenge; viewers cannot upload", async () => {
    const anonymous = await put("ok/1.0.0/a.bin", "x", {}, "");
    assert.equal(anonymous.status, 401);
    const viewer = await server.user(["viewer"]);
    const denied = await put("ok/1.0.0/a.bin", "x", {}, viewer.token);
    assert.equal(denied.status, 403);
    const plain = await fetch(`${server.url}/api/v1/artifacts`);
    assert.equal(plain.status, 401);
    assert.match(plain.headers.get("www-authenticate") ?? "", /Basic/);
    const console = await fetch(`${server.url}/api/v1/artifacts`, { headers: { "x-requested-with": "XMLHttpRequest" } });
    assert.equal(console.status, 401);
    assert.equal(console.headers.get("www-authenticate"), null);
  });
});
