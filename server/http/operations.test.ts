import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer } from "../../test/support/server.js";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

test("healthz and readyz report the database and storage", async () => {
  const health = await server.call("GET", "/healthz");
  assert.equal(health.status, 200);
  const ready = await server.call("GET", "/readyz");
  assert.equal(ready.status, 200);
  assert.equal(ready.body.status, "ready");
  assert.equal(ready.body.checks.database.ok, true);
  assert.equal(ready.body.checks.storage.ok, true);
});

test("metrics are Prometheus text with request durations labelled by route pattern", async () => {
  await server.call("GET", "/api/v1/artifacts/some-component/1.0.0/file.bin", { token: server.admin.token });
  const metrics = await fetch(`${server.url}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get("content-type") ?? "", /text\/plain/);
  const text = await metrics.text();
  assert.match(text, /ferry_http_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/artifacts\/:component\/:version\/:filename"/);
  assert.ok(!text.includes("some-component"), "raw paths must not become labels");
  assert.match(text, /ferry_process_resident_memory_bytes/);
});

test("the OpenAPI document covers every route with its schemas and security", async () => {
  const response = await server.call("GET", "/api/v1/openapi.json");
  assert.equal(response.status, 200);
  const doc = response.body;
  assert.equal(doc.openapi, "3.0.3");
  for (const route of server.routes) {
    const path = `/api/v1${route.path}`.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const operation = doc.paths[path]?.[route.method];
    assert.ok(operation, `missing ${route.method} ${path}`);
    assert.deepEqual(operation.security.length === 0, route.access === "public", `${route.method} ${path} security`);
  }
  const createUser = doc.paths["/api/v1/users"].post;
  const schema = createUser.requestBody.content["application/json"].schema;
  assert.deepEqual(Object.keys(schema.properties).sort(), ["password", "roles", "username"]);
  assert.equal(schema.additionalProperties, false);
  const upload = doc.paths["/api/v1/artifacts/{component}/{version}/{filename}"].put;
  assert.deepEqual(upload.parameters.map((p: { name: string }) => p.name), ["component", "version", "filename"]);
  assert.ok(upload.requestBody.content["application/octet-stream"]);
});

test("a sane X-Request-Id is echoed, an unsafe one replaced; 500s quote it without a stack", async () => {
  const echoed = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "ci-build-42" } });
  assert.equal(echoed.headers.get("x-request-id"), "ci-build-42");
  const replaced = await fetch(`${server.url}/healthz`, { headers: { "x-request-id": "bad id\twith tabs" } });
  assert.match(replaced.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});

test("the signing key is a public Ed25519 key in PEM", async () => {
  const response = await fetch(`${server.url}/api/v1/signing-key`);
  assert.equal(response.status, 200);
  const pem = await response.text();
  assert.match(pem, /^-----BEGIN PUBLIC KEY-----/);
  assert.ok(!pem.includes("PRIVATE"));
});
