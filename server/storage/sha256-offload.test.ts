import assert from "node:assert/strict";
import { createHash, randomBytes, randomFillSync } from "node:crypto";
import { test } from "node:test";
import { ReadBufferPool, returnReadChunk } from "./read-buffers.js";
import { createSha256, offloadedSessions } from "./sha256-offload.js";

const reference = (chunks: Buffer[]) => {
  const hash = createHash("sha256");
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest("hex");
};

/** Uneven chunk sizes, some larger than the 4 MiB ring, so spans wrap around its end. */
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

test("off-thread digests equal node's createHash, including spans that wrap the ring", async () => {
  const chunks = chunksOf(40 * 1024 * 1024 + 123, 0);
  assert.equal(await digestOf(chunks), reference(chunks));
  assert.equal(offloadedSessions(), 0, "the ring went back to the pool");
});

test("small known sizes hash inline; empty content has the empty digest", async () => {
  const small = [randomBytes(1000)];
  const hash = createSha256(1000);
  assert.equal(offloadedSessions(), 0);
  await hash.update(small[0]!);
  assert.equal(await hash.digest(), reference(small));
  assert.equal(await digestOf([]), createHash("sha256").digest("hex"));
});

test("many concurrent sessions (more than there are rings) all get the right digest", async () => {
  const inputs = Array.from({ length: 20 }, (_, i) => chunksOf(6 * 1024 * 1024 + i, i));
  const digests = await Promise.all(inputs.map((chunks) => digestOf(chunks)));
  digests.forEach((digest, i) => assert.equal(digest, reference(inputs[i]!)));
  assert.equal(offloadedSessions(), 0);
});

test("a released session gives its ring back once the thread is done with it", async () => {
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

test("pooled chunks are hashed where they are, and their buffers are not reused before the thread is done", async () => {
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
    // The writer is done with the chunk at once; the hashing thread may not be.
    returnReadChunk(chunk);
    // Whatever the pool hands out next is overwritten at once: if that were the chunk's
    // buffer while the thread still had to read it, the digest would be wrong.
    const next = pool.take();
    if (next === buffer) reusedEarly += 1;
    next.fill(0);
    pool.giveBack(next);
    // As a stream would between reads: the thread's answers come in.
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await hash.digest(), reference(sent));
  assert.ok(pool.allocated > 1, `buffers held by the thread were not handed out again (${pool.allocated} allocated, ${reusedEarly} reused at once)`);
  assert.ok(pool.allocated <= 8, `the thread's holds are released as it hashes (${pool.allocated} buffers for 48 chunks)`);
});
