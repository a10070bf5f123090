/**
 * SIGKILL of a `ferry server` in the middle of building a large bundle: after a restart on
 * the same database and storage the bundle is not `ready` (nothing half-published), the
 * build job is taken up again, and the finished bundle verifies with the published key.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, describe, it } from "node:test";
import { verifyBundle } from "../../agent/verify.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";

const ARTIFACT_BYTES = Number(process.env.FERRY_CRASH_BUNDLE_BYTES ?? 200 * 1024 * 1024);
const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-bundle-crash-"));
// A short lease, so the restarted server takes over the dead process's job quickly.
const env = { FERRY_DATA_DIR: dataDir, FERRY_JOB_LEASE_MS: "1500", LOG_LEVEL: "warn" };
let ferry: FerryProcess | undefined;
after(async () => {
  await ferry?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Pseudo-random bytes (incompressible, cheap to make) streamed without holding them. */
function payload(bytes: number): Readable {
  let sent = 0;
  const block = randomBytes(1024 * 1024);
  return new Readable({
    read() {
      if (sent >= bytes) return void this.push(null);
      const n = Math.min(block.length, bytes - sent);
      block.writeUInt32LE(sent / block.length, 0);
      sent += n;
      this.push(Buffer.from(block.subarray(0, n)));
    },
  });
}

async function call(url: string, token: string, method: string, urlPath: string, body?: unknown) {
  const response = await fetch(url + urlPath, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined, text };
}

describe("a server killed mid-build", () => {
  it("leaves no ready bundle; after a restart the build completes and verifies", async () => {
    ferry = await startFerryProcess(env);
    let token = await ferry.login();
    const put = await fetch(`${ferry.url}/api/v1/artifacts/orders-api/5.0.0/orders-api-5.0.0.tar.gz`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "x-artifact-kind": "binary", "content-type": "application/octet-stream" },
      body: Readable.toWeb(payload(ARTIFACT_BYTES)) as ReadableStream,
      duplex: "half",
    } as RequestInit);
    assert.equal(put.status, 201, await put.text());
    for (const [component, version, file] of [["postgresql", "16.4", "postgresql-16.4-linux-x64-binaries.tar.gz"], ["redis", "7.2.5", "redis-7.2.5-linux-x64.tar.gz"]] as const) {
      const small: Response = await fetch(`${ferry.url}/api/v1/artifacts/${component}/${version}/${file}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, "x-artifact-kind": "binary" }, body: file });
      assert.equal(small.status, 201);
    }
    const components = [{ name: "postgresql", version: "16.4" }, { name: "redis", version: "7.2.5" }, { name: "orders-api", version: "5.0.0" }];
    assert.equal((await call(ferry.url, token, "POST", "/api/v1/releases", { product: "big", version: "5.0.0", components })).status, 201);
    assert.equal((await call(ferry.url, token, "POST", "/api/v1/releases/big/5.0.0/seal")).status, 200);
    assert.equal((await call(ferry.url, token, "POST", "/api/v1/customers", { name: "initech" })).status, 201);
    const site = await call(ferry.url, token, "POST", "/api/v1/customers/initech/sites", { name: "basement", environment: "production", platform: "vm", connectivity: "offline" });
    assert.equal(site.status, 201, site.text);

    const requested = await call(ferry.url, token, "POST", "/api/v1/bundles", { site: site.body.id, release: { product: "big", version: "5.0.0" } });
    assert.equal(requested.status, 202, requested.text);
    const id = requested.body.id as string;
    // Kill once the build has streamed some bytes but not all.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const bundle = await call(ferry.url, token, "GET", `/api/v1/bundles/${id}`);
      const { bytesDone, bytesTotal } = bundle.body.progress;
      if (bundle.body.status === "building" && bytesDone > 0 && bytesDone < bytesTotal) break;
      assert.notEqual(bundle.body.status, "ready", "the build finished before it could be killed; raise FERRY_CRASH_BUNDLE_BYTES");
      assert.ok(Date.now() < deadline, `the build never started: ${bundle.text}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    ferry.kill("SIGKILL");
    await ferry.exited;

    ferry = await startFerryProcess(env);
    token = await ferry.login();
    const afterRestart = await call(ferry.url, token, "GET", `/api/v1/bundles/${id}`);
    assert.notEqual(afterRestart.body.status, "ready", "a killed build is never ready");
    assert.equal(afterRestart.body.sha256, null);
    const download = await call(ferry.url, token, "GET", `/api/v1/bundles/${id}/download`);
    assert.equal(download.status, 409);
    assert.equal(download.body.error.code, "bundle_not_ready");

    let ready: any;
    const readyBy = Date.now() + 180_000;
    for (;;) {
      ready = (await call(ferry.url, token, "GET", `/api/v1/bundles/${id}`)).body;
      if (ready.status === "ready") break;
      assert.notEqual(ready.status, "failed", ready.error);
      assert.ok(Date.now() < readyBy, `not ready after the restart: ${JSON.stringify(ready)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const file = path.join(dataDir, "bundle.tar");
    const response = await fetch(`${ferry.url}/api/v1/bundles/${id}/download`, { headers: { authorization: `Bearer ${token}` } });
    const hash = createHash("sha256");
    await pipeline(Readable.fromWeb(response.body as never), async function* (source) {
      for await (const chunk of source) {
        hash.update(chunk as Buffer);
        yield chunk;
      }
    }, createWriteStream(file));
    assert.equal(hash.digest("hex"), ready.sha256);
    const key = await fetch(`${ferry.url}/api/v1/signing-key`).then((r) => r.text());
    const report = await verifyBundle(file, { publicKeyPem: key });
    assert.deepEqual(report.problems, []);
    assert.equal(report.signature, "valid");
  });
});
