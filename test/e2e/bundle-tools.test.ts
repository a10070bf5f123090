/**
 * A bundle as an operator at an air-gapped site meets it, checked with the standard tools
 * only: GNU tar extracts it, `sha256sum -c SHA256SUMS` passes inside the folder, and
 * `openssl pkeyutl -verify` accepts manifest.json.sig with the key from GET /signing-key.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BINARY, bundleWorld, type BundleWorld } from "../support/bundles.js";
import { startTestServer, type TestServer } from "../support/server.js";

let server: TestServer;
let world: BundleWorld;
const work = mkdtempSync(path.join(tmpdir(), "ferry-bundle-tools-"));

before(async () => {
  server = await startTestServer();
  world = await bundleWorld(server);
});
after(async () => {
  await server?.close();
  if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  else console.log(work);
});

const run = (command: string, args: string[], cwd = work) => execFileSync(command, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("a full bundle with GNU tar, sha256sum and openssl", () => {
  it("extracts, checks and verifies", async () => {
    await world.upload("postgresql", "16.4", "postgresql-16.4-linux-x64-binaries.tar.gz", "pg binaries", BINARY);
    await world.upload("redis", "7.2.5", "redis-7.2.5-linux-x64.tar.gz", "redis binaries", BINARY);
    await world.upload("orders-api", "1.0.0", "orders-api-1.0.0.tar.gz", Buffer.alloc(3 * 1024 * 1024 + 17, 7), BINARY);
    await world.uploadSql("orders-api", "1.0.0", "V1.0.0.1__create_orders.sql", "CREATE TABLE orders (id bigint primary key);");
    await world.approveAll();
    await world.release("orders", "1.0.0", [
      { name: "postgresql", version: "16.4" },
      { name: "redis", version: "7.2.5" },
      { name: "orders-api", version: "1.0.0" },
    ]);
    const site = await world.site("acme", "plant-1", "docker");
    const requested = await world.request({ site, release: { product: "orders", version: "1.0.0" } });
    assert.equal(requested.status, 202, requested.text);
    const bundle = await world.waitReady(requested.body.id);
    const file = path.join(work, "bundle.tar");
    await world.download(bundle.id, file);
    assert.equal(run("sha256sum", [file]).split(" ")[0], bundle.sha256);

    run("tar", ["-xf", file]);
    const folder = "acme-plant-1_orders-1.0.0";
    assert.deepEqual(readdirSync(work).filter((name) => name !== "bundle.tar"), [folder]);
    const dir = path.join(work, folder);
    const sums = run("sha256sum", ["-c", "--strict", "SHA256SUMS"], dir);
    assert.match(sums, /artifacts\/orders-api\/1.0.0\/orders-api-1.0.0.tar.gz: OK/);
    assert.match(sums, /sql\/orders\/0001_V1.0.0.1__create_orders.sql: OK/);
    assert.match(sums, /manifest.json: OK/);

    const key = await fetch(`${server.url}/api/v1/signing-key`).then((r) => r.text());
    writeFileSync(path.join(work, "key.pem"), key);
    writeFileSync(path.join(work, "sig.bin"), Buffer.from(readFileSync(path.join(dir, "manifest.json.sig"), "utf8"), "base64"));
    const verified = run("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", path.join(dir, "manifest.json"), "-sigfile", "sig.bin"]);
    assert.match(verified, /Signature Verified Successfully/);

    const manifest = JSON.parse(readFileSync(path.join(dir, "manifest.json"), "utf8"));
    assert.equal(manifest.format, "ferry-bundle/v1");
    assert.deepEqual(manifest.components.map((c: { name: string; action: string }) => `${c.name}:${c.action}`), ["postgresql:install", "redis:install", "orders-api:install"]);
    assert.equal(manifest.sql[0].scripts[0].approvals[0].reviewer, world.dba.username);
    assert.ok(readFileSync(path.join(dir, "compose.yaml"), "utf8").includes("orders-api:"));
    assert.ok(readFileSync(path.join(dir, "catalog/orders-api/service.yml"), "utf8").includes("name: orders-api"));

    writeFileSync(path.join(work, "last.tar"), readFileSync(file));
    // A tampered manifest no longer verifies.
    writeFileSync(path.join(dir, "manifest.json"), readFileSync(path.join(dir, "manifest.json"), "utf8").replace("orders-api", "orders-apj"));
    assert.throws(() => run("openssl", ["pkeyutl", "-verify", "-pubin", "-inkey", "key.pem", "-rawin", "-in", path.join(dir, "manifest.json"), "-sigfile", "sig.bin"]));
    assert.throws(() => run("sha256sum", ["-c", "--quiet", "SHA256SUMS"], dir));
  });
});
