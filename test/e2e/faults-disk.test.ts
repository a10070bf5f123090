/**
 * Disk full during an upload (issue 7 item 4), embedded profile: the blob directory
 * (<FERRY_DATA_DIR>/blobs) is a 32 MiB tmpfs while PGlite stays on the ordinary disk. A
 * 64 MiB upload must fail with a clear error (507 insufficient_storage), leave no artifact
 * row and no staged file, and a small upload afterwards must succeed in the same process.
 * Needs root (mount); skipped otherwise.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import type { Cleanups } from "../support/cluster.js";

const isRoot = process.getuid?.() === 0;
const cleanups: Cleanups = [];
let ferry: FerryProcess;
let token: string;
let blobsDir: string;
let cannotMount: string | undefined;
const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

before(async () => {
  if (!isRoot) return;
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-faults-disk-"));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  blobsDir = path.join(dataDir, "blobs");
  mkdirSync(blobsDir);
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", blobsDir], { stdio: "pipe" });
  } catch (error) {
    // Root without CAP_SYS_ADMIN (some containers): report a skip, not a failure.
    cannotMount = (error as Error).message.split("\n")[0] ?? "mount failed";
    return;
  }
  cleanups.push(() => execFileSync("umount", ["-l", blobsDir]));
  ferry = await startFerryProcess({ FERRY_DATA_DIR: dataDir });
  cleanups.push(() => ferry.stop());
  token = await ferry.login();
});

after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

async function call(method: string, url: string, init: RequestInit = {}) {
  const response = await fetch(ferry.url + url, { method, ...init, headers: { authorization: `Bearer ${token}`, ...init.headers }, signal: AbortSignal.timeout(60_000) });
  return { status: response.status, text: await response.text() };
}

/** 64 MiB streamed from 1 MiB chunks (the client holds no 64 MiB buffer either). */
function sixtyFourMiB(): { body: ReadableStream; sha256: string } {
  const chunk = randomBytes(1024 * 1024);
  const hash = createHash("sha256");
  for (let i = 0; i < 64; i++) hash.update(chunk);
  const body = Readable.from((function* () {
    for (let i = 0; i < 64; i++) yield chunk;
  })());
  return { body: Readable.toWeb(body) as ReadableStream, sha256: hash.digest("hex") };
}

function stagedFiles(): string[] {
  const tmp = path.join(blobsDir, "tmp");
  try {
    return readdirSync(tmp);
  } catch {
    return [];
  }
}

describe("disk full during an upload", { skip: !isRoot && "needs root to mount a tmpfs" }, () => {
  test("a 64 MiB upload onto 32 MiB of space fails with 507, leaves nothing; a small one then succeeds", async (t) => {
    if (cannotMount) return t.skip(`cannot mount a tmpfs: ${cannotMount}`);
    const big = sixtyFourMiB();
    const refused = await call("PUT", "/api/v1/artifacts/tool/1.0.0/tool-big.bin", {
      headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": big.sha256 },
      body: big.body,
      duplex: "half",
    } as RequestInit);
    assert.equal(refused.status, 507, `${refused.text}\n${ferry.output().slice(-3000)}`);
    assert.equal(JSON.parse(refused.text).error.code, "insufficient_storage");
    assert.doesNotMatch(refused.text, /\bat \S+ \(|node_modules/, "no stack trace in the response");

    const listed = await call("GET", "/api/v1/artifacts/tool/1.0.0");
    assert.ok(listed.status === 404 || (listed.status === 200 && !listed.text.includes("tool-big.bin")), `no artifact row: ${listed.status} ${listed.text}`);
    const missing = await call("GET", "/api/v1/artifacts/tool/1.0.0/tool-big.bin");
    assert.equal(missing.status, 404);
    assert.deepEqual(stagedFiles(), [], "no staged file left on the full disk");

    const small = Buffer.from(`small ${randomBytes(8).toString("hex")}`);
    const stored = await call("PUT", "/api/v1/artifacts/tool/1.0.0/tool-small.txt", {
      headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": sha256(small) },
      body: new Uint8Array(small),
    });
    assert.equal(stored.status, 201, stored.text);
    const download = await fetch(`${ferry.url}/api/v1/artifacts/tool/1.0.0/tool-small.txt`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(download.status, 200);
    assert.equal(sha256(Buffer.from(await download.arrayBuffer())), sha256(small));
    assert.equal(ferry.child.exitCode, null, "the same Ferry process throughout");
  });
});
