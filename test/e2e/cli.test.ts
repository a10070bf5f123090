/**
 * The `ferry` CLI as CI uses it: a real server, the real bin/ferry.js in a child process.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startTestServer, type TestServer } from "../support/server.js";

const run = promisify(execFile);
const ferryBin = path.resolve(import.meta.dirname, "../../bin/ferry.js");
let server: TestServer;
let dir: string;

before(async () => {
  server = await startTestServer();
  dir = mkdtempSync(path.join(tmpdir(), "ferry-cli-"));
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function ferry(args: string[], token = server.admin.token) {
  try {
    const { stdout, stderr } = await run(process.execPath, [ferryBin, ...args], { env: { ...process.env, FERRY_SERVER: server.url, FERRY_TOKEN: token } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

test("user add and token create give a CI token; push uploads, dedups by checksum and is idempotent", { timeout: 120_000 }, async () => {
  const added = await ferry(["user", "add", "ci-bot", "--role", "ci", "--password", "ci-bot-password"]);
  assert.equal(added.code, 0, added.stderr);
  assert.match(added.stdout, /created user ci-bot with roles ci/);

  const login = await server.call("POST", "/api/v1/auth/login", { body: { username: "ci-bot", password: "ci-bot-password" } });
  const created = await ferry(["token", "create", "--name", "pipeline", "--role", "ci"], login.body.token);
  assert.equal(created.code, 0, created.stderr);
  const token = created.stdout.trim();
  assert.match(token, /^fry_/);

  const jar = path.join(dir, "orders-api.jar");
  const content = randomBytes(2 * 1024 * 1024);
  writeFileSync(jar, content);
  const digest = createHash("sha256").update(content).digest("hex");

  const first = await ferry(["push", jar, "--component", "orders-api", "--version", "1.0.0"], token);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`uploaded: orders-api/1.0.0/orders-api.jar sha256:${digest}$`, "m"));

  const sameBlob = await ferry(["push", jar, "--component", "orders-api", "--version", "1.0.1"], token);
  assert.match(sameBlob.stdout, /uploaded: .*\(no body sent: server had the blob\)/);

  const again = await ferry(["push", jar, "--component", "orders-api", "--version", "1.0.0"], token);
  assert.match(again.stdout, /already there/);

  const artifact = await server.call("GET", "/api/v1/artifacts/orders-api/1.0.1/orders-api.jar/info", { token });
  assert.equal(artifact.body.sha256, digest);
  assert.equal(artifact.body.uploadedBy, "ci-bot");

  writeFileSync(jar, Buffer.concat([content, Buffer.from("changed")]));
  const conflicting = await ferry(["push", jar, "--component", "orders-api", "--version", "1.0.0"], token);
  assert.equal(conflicting.code, 1);
  assert.match(conflicting.stderr, /immutable/);
});

test("client errors are one clear line and a non-zero exit", async () => {
  const noServer = await run(process.execPath, [ferryBin, "push", "x", "--component", "a", "--version", "1"], { env: { ...process.env, FERRY_SERVER: "", FERRY_TOKEN: "" } }).catch((e) => e);
  assert.equal(noServer.code, 1);
  assert.match(noServer.stderr, /no server: pass --server URL or set FERRY_SERVER/);
  const missing = await ferry(["push", path.join(dir, "nope.bin"), "--component", "a", "--version", "1"]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /not a readable file/);
  const badConfig = await run(process.execPath, [ferryBin, "server"], { env: { ...process.env, PORT: "not-a-port", FERRY_DATA_DIR: dir } }).catch((e) => e);
  assert.equal(badConfig.code, 2);
  assert.match(badConfig.stderr, /^invalid configuration: PORT/m);
});

test("release create, seal and diff from the command line", { timeout: 120_000 }, async () => {
  const ci = await server.user(["ci"]);
  for (const version of ["7.2.4", "7.2.5"]) {
    const file = path.join(dir, `redis-${version}-linux-x64.tar.gz`);
    writeFileSync(file, `redis ${version}`);
    const pushed = await ferry(["push", file, "--component", "redis", "--version", version], ci.token);
    assert.equal(pushed.code, 0, pushed.stderr);
  }
  for (const [release, redis] of [["1.0.0", "7.2.4"], ["1.1.0", "7.2.5"]] as const) {
    const created = await ferry(["release", "create", `cache@${release}`, "--component", `redis@${redis}`, "--notes", "from the CLI"], ci.token);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`created draft cache ${release} \\(1 components\\)`));
    const sealed = await ferry(["release", "seal", `cache@${release}`], ci.token);
    assert.equal(sealed.code, 0, sealed.stderr);
    assert.match(sealed.stdout, /sealed cache .* digest sha256:[0-9a-f]{64}/);
  }
  const diff = await ferry(["release", "diff", "cache@1.1.0", "--from", "1.0.0"], ci.token);
  assert.equal(diff.code, 0, diff.stderr);
  assert.match(diff.stdout, /~ redis 7\.2\.4 → 7\.2\.5/);
  const again = await ferry(["release", "seal", "cache@1.1.0"], ci.token);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /immutable/);
  const bad = await ferry(["release", "create", "cache", "--component", "redis@7.2.4"], ci.token);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /expected the release as name@version/);
});

test("user disable cuts a user off at once and user enable lets them back; the last admin stays", { timeout: 120_000 }, async () => {
  const added = await ferry(["user", "add", "leaver", "--role", "delivery", "--password", "leaver-password"]);
  assert.equal(added.code, 0, added.stderr);
  const session = (await server.call("POST", "/api/v1/auth/login", { body: { username: "leaver", password: "leaver-password" } })).body.token;
  assert.equal((await server.call("GET", "/api/v1/auth/me", { token: session })).status, 200);

  const disabled = await ferry(["user", "disable", "leaver"]);
  assert.equal(disabled.code, 0, disabled.stderr);
  assert.match(disabled.stdout, /^disabled user leaver \(roles delivery\)$/m);
  assert.equal((await server.call("GET", "/api/v1/auth/me", { token: session })).status, 401, "the open session stops");
  const refused = await server.call("POST", "/api/v1/auth/login", { body: { username: "leaver", password: "leaver-password" } });
  assert.notEqual(refused.status, 200, "and so does logging in");

  const enabled = await ferry(["user", "enable", "leaver"]);
  assert.equal(enabled.code, 0, enabled.stderr);
  assert.match(enabled.stdout, /^enabled user leaver/m);
  assert.equal((await server.call("POST", "/api/v1/auth/login", { body: { username: "leaver", password: "leaver-password" } })).status, 200);

  const unknown = await ferry(["user", "disable", "nobody-by-that-name"]);
  assert.equal(unknown.code, 1);
  assert.match(unknown.stderr, /no user named nobody-by-that-name/);
  const lastAdmin = await ferry(["user", "disable", "admin"]);
  assert.equal(lastAdmin.code, 1);
  assert.match(lastAdmin.stderr, /last_admin|last enabled admin/);
  assert.equal((await server.call("GET", "/api/v1/auth/me", { token: server.admin.token })).status, 200, "the admin still works");
});
