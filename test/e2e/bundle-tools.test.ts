/**
 * A bundle as an operator at an air-gapped site meets it, checked with the standard tools
 * only: GNU tar extracts it, `sha256sum -c SHA256SUMS` passes inside the folder, and
 * `openssl pkeyutl -verify` accepts manifest.json.sig with the key from GET /signing-key.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { verifyBundle } from "../../agent/verify.js";
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

const root = path.resolve(import.meta.dirname, "../..");
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

  it("one flipped byte anywhere fails verification and names the file; ferry bundle verify exits 1", async () => {
    const file = path.join(work, "last.tar");
    const original = readFileSync(file);
    const folder = "acme-plant-1_orders-1.0.0";
    // Where GNU tar (not our reader) says each entry starts: `block N: <mode> … <name>`.
    const listing = run("tar", ["-tRvf", file]).trim().split("\n");
    const entries = listing
      .map((line) => /^block (\d+): (\S+) \S+\s+(\d+) \S+ \S+ (.+)$/.exec(line))
      .filter((m): m is RegExpExecArray => Boolean(m))
      .map((m) => ({ block: Number(m[1]), dir: m[2]!.startsWith("d"), size: Number(m[3]), name: m[4]!.replace(/\/$/, "").replace(`${folder}/`, "") }));
    assert.ok(entries.length > 20);
    const flips: Array<{ at: number; names: string }> = [];
    entries.forEach((entry, index) => {
      // A damaged name field cannot name its own entry: the report points at the header after the previous one.
      flips.push({ at: entry.block * 512 + 3, names: index ? entries[index - 1]!.name : "first header" });
      flips.push({ at: entry.block * 512 + 124 + 5, names: entry.name }); // its header (size field)
      if (!entry.dir && entry.size > 0) {
        flips.push({ at: (entry.block + 1) * 512, names: entry.name }); // first data byte
        flips.push({ at: (entry.block + 1) * 512 + entry.size - 1, names: entry.name }); // last data byte
        if (entry.size % 512) flips.push({ at: (entry.block + 1) * 512 + entry.size, names: entry.name }); // padding
      }
    });
    flips.push({ at: original.length - 1, names: "sql/orders/0001_V1.0.0.1__create_orders.sql" }); // end-of-archive blocks
    const key = readFileSync(path.join(work, "key.pem"), "utf8");
    const flipped = path.join(work, "flipped.tar");
    for (const flip of flips) {
      const copy = Buffer.from(original);
      copy[flip.at] = copy[flip.at]! ^ 0x20;
      writeFileSync(flipped, copy);
      const report = await verifyBundle(flipped, { publicKeyPem: key });
      assert.equal(report.ok, false, `a flip at ${flip.at} (${flip.names}) went unnoticed`);
      const named = report.problems.some((p) => p.file === flip.names || p.message.includes(flip.names));
      assert.ok(named, `a flip at ${flip.at} should name ${flip.names}: ${JSON.stringify(report.problems)}`);
    }

    // The CLI, as an operator runs it: exit 1 naming the file, 0 on the intact bundle.
    const artifact = entries.find((e) => e.name.endsWith("orders-api-1.0.0.tar.gz"))!;
    const copy = Buffer.from(original);
    copy[(artifact.block + 1) * 512 + 1000]! ^= 1;
    writeFileSync(flipped, copy);
    // Asynchronous: the server under test lives in this process and must keep answering.
    const cli = async (args: string[]) => {
      try {
        const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", path.join(root, "server/cli/main.ts"), "bundle", "verify", ...args], { cwd: root, encoding: "utf8" });
        return { code: 0, out: stdout };
      } catch (error) {
        const failure = error as { code: number; stdout: string };
        return { code: failure.code, out: failure.stdout };
      }
    };
    const bad = await cli([flipped, "--key", path.join(work, "key.pem")]);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /FAILED artifacts\/orders-api\/1.0.0\/orders-api-1.0.0.tar.gz/);
    const good = await cli([file, "--server", server.url]);
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /signature: valid/);
    const unkeyed = await cli([file]);
    assert.equal(unkeyed.code, 0);
    assert.match(unkeyed.out, /signature: NOT CHECKED/);
  });

  it("ferry bundle build follows the build and downloads a checked file", async () => {
    const site = await world.site("acme", "plant-2");
    const output = path.join(work, "cli-built.tar");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--import", "tsx", path.join(root, "server/cli/main.ts"), "bundle", "build", "--site", site, "--release", "orders@1.0.0", "--components", "redis", "-o", output],
      { cwd: root, encoding: "utf8", env: { ...process.env, FERRY_SERVER: server.url, FERRY_TOKEN: world.delivery.token } },
    );
    const sha = run("sha256sum", [output]).split(" ")[0]!;
    assert.ok(stdout.includes(`sha256:${sha}`), stdout);
    assert.equal((await verifyBundle(output)).ok, true);
    assert.match(run("tar", ["-tf", output]), /acme-plant-2_orders-1.0.0\/artifacts\/redis\/7.2.5\/redis-7.2.5-linux-x64.tar.gz/);
  });
});
