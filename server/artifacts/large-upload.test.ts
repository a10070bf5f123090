/**
 * The CI path at full size: a 1 GiB file uploaded with `curl -T` and a declared checksum,
 * downloaded and checked with `sha256sum`, and a byte range checked against the file.
 * FERRY_TEST_LARGE_BYTES overrides the size (default 1 GiB).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, exec } from "node:child_process";
import { promisify } from "node:util";
import { mkdtempSync, openSync, readSync, closeSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";

const size = Number(process.env.FERRY_TEST_LARGE_BYTES ?? 1024 ** 3);
// Asynchronous on purpose: the server under test runs in this process, so a synchronous
// child process would block it and deadlock with curl.
const run = promisify(exec);
const runFile = promisify(execFile);
let server: TestServer;
let ci: TestUser;
let dir: string;
let file: string;
let digest: string;

before(async () => {
  server = await startTestServer();
  ci = await server.user(["ci"]);
  dir = mkdtempSync(path.join(tmpdir(), "ferry-large-"));
  file = path.join(dir, "big.bin");
  await run(`head -c ${size} /dev/urandom > ${file}`);
  digest = (await runFile("sha256sum", [file])).stdout.split(" ")[0]!;
});
after(async () => {
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function curl(args: string[]): Promise<Buffer> {
  const result = await runFile("curl", ["-sS", "-u", `${ci.username}:${ci.password}`, ...args], { encoding: "buffer", maxBuffer: 16 * 1024 * 1024 });
  return result.stdout;
}

test(`a ${size}-byte upload with curl -T and a declared checksum round-trips`, { timeout: 600_000 }, async () => {
  const url = `${server.url}/api/v1/artifacts/big/1.0.0/big.bin`;
  const status = await curl(["-o", "/dev/null", "-w", "%{http_code}", "-T", file, "-H", `X-Checksum-Sha256: ${digest}`, url]);
  assert.equal(status.toString(), "201");

  const downloaded = (await run(`curl -sS -u ${ci.username}:${ci.password} ${url} | sha256sum`)).stdout.split(" ")[0];
  assert.equal(downloaded, digest);

  const start = Math.floor(size / 2) + 12345;
  const length = 4096;
  const expected = Buffer.alloc(length);
  const fd = openSync(file, "r");
  readSync(fd, expected, 0, length, start);
  closeSync(fd);
  const ranged = await curl(["-r", `${start}-${start + length - 1}`, url]);
  assert.deepEqual(ranged, expected);
});
