import assert from "node:assert/strict";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { test } from "node:test";
import { ReadBufferPool, returnReadChunk } from "./read-buffers.js";
import { canHashOffLoop, createSha256, offloadedSessions } from "./sha256-offload.js";

const reference = (chunks: Buffer[]) => {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
};

/** Uneven chunk sizes: some smaller than a 1 MiB span, some larger than the 4 MiB a session may queue. */
function chunksOf(total: number, seed: number): Buffer[] {
  const sizes = [1, 65_536, 3 * 1024 * 1024 + 7, 5 * 1024 * 1024 + 3, 511, 1024 * 1024];
  const out: Buffer[] = [];
  for (let left = total, i = seed; left > 0; i++) {
    const size = Math.min(left, sizes[i % sizes.length]!);
    out.push(randomBytes(size));
    left -= size;
  }
  return out;
}

async function digestOf(chunks: Buffer[], expectedBytes?: number): Promise<string> {
  const hash = createSha256(expectedBytes);
  for (const chunk of chunks) await hash.update(chunk);
  return hash.digest();
}

test("this platform hashes off the event loop (OpenSSL through koffi), not inline", () => {
  assert.equal(canHashOffLoop(), true);
});

test("digests off the event loop equal node's createHash, for chunks of every size", async () => {
  const chunks = chunksOf(40 * 1024 * 1024 + 123, 0);
  const hash = createSha256();
  assert.equal(offloadedSessions(), 1, "a large stream is hashed off the loop");
  for (const chunk of chunks) await hash.update(chunk);
  assert.equal(await hash.digest(), reference(chunks));
  assert.equal(offloadedSessions(), 0, "the session gave its slot back");
});

test("the event loop stays free while a large stream is hashed", async () => {
  const chunk = randomBytes(1024 * 1024);
  const hash = createSha256();
  let ticks = 0;
  const timer = setInterval(() => (ticks += 1), 1);
  const started = performance.now();
  for (let i = 0; i < 256; i++) await hash.update(chunk);
  await hash.digest();
  const elapsed = performance.now() - started;
  clearInterval(timer);
  // Inline, 256 MiB keep the loop busy for the whole time and no timer fires in between.
  assert.ok(ticks >= elapsed / 20, `${ticks} timer ticks in ${elapsed.toFixed(0)} ms of hashing`);
});

test("small known sizes hash inline; empty content has the empty digest", async () => {
  const small = [randomBytes(1000)];
  const hash = createSha256(1000);
  assert.equal(offloadedSessions(), 0);
  await hash.update(small[0]!);
  assert.equal(await hash.digest(), reference(small));
  assert.equal(await digestOf([]), createHash("sha256").digest("hex"));
});

test("many concurrent sessions (more than may hash off the loop) all get the right digest", async () => {
  const inputs = Array.from({ length: 20 }, (_, i) => chunksOf(6 * 1024 * 1024 + i, i));
  const digests = await Promise.all(inputs.map((chunks) => digestOf(chunks)));
  digests.forEach((digest, i) => assert.equal(digest, reference(inputs[i]!)));
  assert.equal(offloadedSessions(), 0);
});

test("a released session gives its slot back once its last call is done", async () => {
  for (let i = 0; i < 30; i++) {
    const hash = createSha256();
    await hash.update(randomBytes(2 * 1024 * 1024));
    hash.release();
    hash.release();
  }
  for (let waited = 0; offloadedSessions() > 0 && waited < 5000; waited += 10) await new Promise((r) => setTimeout(r, 10));
  assert.equal(offloadedSessions(), 0);
  const chunks = chunksOf(9 * 1024 * 1024, 2);
  assert.equal(await digestOf(chunks), reference(chunks));
});

test("pooled chunks are hashed where they are, and their buffers are not reused before they are hashed", async () => {
  const pool = new ReadBufferPool();
  const hash = createSha256();
  const sent: Buffer[] = [];
  let reusedEarly = 0;
  for (let i = 0; i < 48; i++) {
    const buffer = pool.take();
    randomFillSync(buffer);
    const chunk = pool.lend(buffer, i === 47 ? 1000 : buffer.length);
    sent.push(Buffer.from(chunk));
    await hash.update(chunk);
    // The writer is done with the chunk at once; the hash may not be.
    returnReadChunk(chunk);
    // Whatever the pool hands out next is overwritten at once: if that were the chunk's
    // buffer while it was still to be hashed, the digest would be wrong.
    const next = pool.take();
    if (next === buffer) reusedEarly += 1;
    next.fill(0);
    pool.giveBack(next);
    // As a stream would between reads: finished calls come back.
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await hash.digest(), reference(sent));
  assert.ok(pool.allocated > 1, `buffers still to be hashed were not handed out again (${pool.allocated} allocated, ${reusedEarly} reused at once)`);
  assert.ok(pool.allocated <= 8, `holds are released as chunks are hashed (${pool.allocated} buffers for 48 chunks)`);
});
