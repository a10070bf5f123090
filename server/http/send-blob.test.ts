/**
 * Large downloads over HTTP (send-blob.ts), on a real server: the bytes are exact, whole or
 * ranged, while a few reused read buffers serve the whole download (fs storage); a stored
 * object that no longer matches its SHA-256 is cut short, never sent complete.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync, readlinkSync } from "node:fs";
import { Readable } from "node:stream";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { blobKey } from "../storage/blob-store.js";
import { readBuffersAllocated } from "../storage/read-buffers.js";

const MiB = 1024 * 1024;
let server: TestServer;
let ci: TestUser;
before(async () => {
  server = await startTestServer();
  ci = await server.user(["ci"]);
});
after(async () => {
  await server?.close();
});

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest("hex");

async function uploaded(name: string, size: number): Promise<{ content: Buffer; digest: string; url: string }> {
  const content = randomBytes(size);
  const digest = sha256(content);
  const url = `${server.url}/api/v1/artifacts/downloads/1.0.0/${name}`;
  const response = await fetch(url, {
    method: "PUT",
    headers: { authorization: `Bearer ${ci.token}`, "content-type": "application/octet-stream", "x-checksum-sha256": digest },
    body: new Uint8Array(content),
  });
  assert.equal(response.status, 201, await response.text());
  return { content, digest, url };
}

/** The body as far as it arrives: a response cut short rejects while it is read. */
async function received(response: Response): Promise<{ bytes: Buffer; error?: unknown }> {
  const chunks: Buffer[] = [];
  const reader = response.body!.getReader();
  try {
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(Buffer.from(next.value));
    return { bytes: Buffer.concat(chunks) };
  } catch (error) {
    return { bytes: Buffer.concat(chunks), error };
  }
}

test("a large download is exact, whole or ranged, and reads into a few reused buffers", async () => {
  const blob = await uploaded("large.bin", 24 * MiB + 5);
  const headers = { authorization: `Bearer ${ci.token}` };

  const allocatedBefore = readBuffersAllocated();
  const whole = await fetch(blob.url, { headers });
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get("content-length"), String(blob.content.length));
  const body = await received(whole);
  assert.equal(body.error, undefined);
  assert.equal(sha256(body.bytes), blob.digest);
  if (server.ctx.blobs.driver.kind === "fs") {
    // 25 reads of 1 MiB. Each buffer goes back to the pool once the socket has taken it, so the
    // buffers in flight are all there is; without the hand-back it would be one per read.
    const allocated = readBuffersAllocated() - allocatedBefore;
    assert.ok(allocated >= 1 && allocated <= 8, `${allocated} read buffers allocated for 25 reads`);
  }

  const range = { start: MiB - 10, end: 20 * MiB + 3 };
  const ranged = await fetch(blob.url, { headers: { ...headers, range: `bytes=${range.start}-${range.end}` } });
  assert.equal(ranged.status, 206);
  const part = await received(ranged);
  assert.ok(part.bytes.equals(blob.content.subarray(range.start, range.end + 1)), "the ranged bytes are exact");
});

test("a large stored object that no longer matches its SHA-256 is cut short, never sent complete", async () => {
  const blob = await uploaded("damaged.bin", 9 * MiB + 3);
  const damaged = Buffer.from(blob.content);
  damaged[6 * MiB] = damaged[6 * MiB]! ^ 0xff;
  await server.ctx.blobs.driver.put(blobKey(blob.digest), Readable.from([damaged]));

  const response = await fetch(blob.url, { headers: { authorization: `Bearer ${ci.token}` } });
  assert.equal(response.status, 200, "the status went out before the damage was read");
  const body = await received(response);
  assert.ok(body.error, "reading the body fails");
  assert.ok(body.bytes.length < blob.content.length, `received ${body.bytes.length} of ${blob.content.length} bytes`);
});

test("a client that goes away mid-download releases the stored file at once", { timeout: 30_000 }, async (t) => {
  if (server.ctx.blobs.driver.kind !== "fs") return t.skip("looks at the server's open files: fs storage only");
  const blob = await uploaded("abandoned.bin", 64 * MiB);
  const client = new AbortController();
  const response = await fetch(blob.url, { headers: { authorization: `Bearer ${ci.token}` }, signal: client.signal });
  await response.body!.getReader().read();
  assert.ok(holdsOpen(blob.digest), "the download holds the stored file open");
  client.abort();
  const deadline = Date.now() + 5000;
  while (holdsOpen(blob.digest) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(holdsOpen(blob.digest), false, "the stored file is closed");
});

/** Whether this process (the server runs in it) has the stored file of `digest` open. */
function holdsOpen(digest: string): boolean {
  return readdirSync("/proc/self/fd").some((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`).endsWith(`/${blobKey(digest)}`);
    } catch {
      return false; // closed while we looked
    }
  });
}
