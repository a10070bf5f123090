/**
 * Reused read buffers (read-buffers.ts) on the fs driver, over a real database (PGlite in
 * memory): bytes read through a pool and written by a DurableFileWriter are exact while a
 * handful of buffers serve the whole read; chunks nobody hands back are never reused;
 * verification, ranges and missing blobs behave as without a pool.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, test } from "node:test";
import { openDatabase, type Database } from "../db/client.js";
import { AppError } from "../errors.js";
import { BlobStore, blobKey } from "./blob-store.js";
import { DurableFileWriter } from "./durable-file.js";
import { FsDriver } from "./fs.driver.js";
import { v8Collector } from "../util/young-gc.js";
import { ReadBufferPool, readBuffersAllocated, returnReadChunk } from "./read-buffers.js";

const MiB = 1024 * 1024;
const work = mkdtempSync(path.join(tmpdir(), "ferry-read-buffers-"));
let db: Database;
let store: BlobStore;

before(async () => {
  db = await openDatabase({ dataDir: path.join(work, "db"), inMemory: true });
  await db.migrate();
  store = new BlobStore(new FsDriver(path.join(work, "blobs")), db.prisma);
});

after(async () => {
  await db.close();
  rmSync(work, { recursive: true, force: true });
});

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

async function stored(size: number): Promise<{ content: Buffer; digest: string }> {
  const content = randomBytes(size);
  const { sha256: digest } = await store.put(Readable.from([content]));
  return { content, digest };
}

test("blobs read through a pool into durable files are exact, and a few buffers serve every read", async () => {
  const pool = new ReadBufferPool();
  const blobs = [await stored(24 * MiB + 7), await stored(17 * MiB + 1), await stored(3 * MiB)];
  let chunks = 0;
  for (const [index, blob] of blobs.entries()) {
    const copy = path.join(work, `copy-${index}`);
    const source = await store.open(blob.digest, { buffers: pool });
    source.on("data", () => (chunks += 1));
    await pipeline(source, new DurableFileWriter(copy));
    assert.equal(sha256(readFileSync(copy)), blob.digest, `blob ${index} copied exactly`);
  }
  assert.ok(chunks >= 44, `read in 1 MiB chunks (${chunks})`);
  // The writer hands each chunk back once written: the buffers in flight, not one per chunk.
  assert.ok(pool.allocated <= 16, `${pool.allocated} buffers allocated for ${chunks} chunks`);
});

test("chunks that are never handed back are never read into again", async () => {
  const pool = new ReadBufferPool();
  const blob = await stored(9 * MiB + 5);
  const chunks: Buffer[] = [];
  for await (const chunk of await store.open(blob.digest, { buffers: pool })) chunks.push(chunk as Buffer);
  assert.equal(new Set(chunks.map((chunk) => chunk.buffer)).size, chunks.length, "every kept chunk has a buffer of its own");
  assert.ok(Buffer.concat(chunks).equals(blob.content));
  assert.ok(pool.allocated <= chunks.length + 1, "one buffer per chunk (and one for the read that found the end)");

  // Only the exact chunk lent out returns its buffer: a slice of it, or any other buffer, does not.
  returnReadChunk(chunks[0]!.subarray(1));
  returnReadChunk(Buffer.alloc(MiB));
  assert.notEqual(pool.take().buffer, chunks[0]!.buffer);
  returnReadChunk(chunks[1]!);
  returnReadChunk(chunks[1]!);
  assert.equal(pool.take().buffer, chunks[1]!.buffer, "a returned chunk's buffer is reused");
  assert.notEqual(pool.take().buffer, chunks[1]!.buffer, "returned twice, it is still handed out once");
});

test("with a pool, corruption is still caught, ranges are exact and a missing object is a clear error", async () => {
  const blob = await stored(5 * MiB + 3);
  const range = { start: MiB - 10, end: 3 * MiB + 20 };
  const ranged: Buffer[] = [];
  for await (const chunk of await store.open(blob.digest, { range, buffers: new ReadBufferPool() })) ranged.push(chunk as Buffer);
  assert.ok(Buffer.concat(ranged).equals(blob.content.subarray(range.start, range.end + 1)));

  const file = path.join(work, "blobs", blobKey(blob.digest));
  const corrupt = Buffer.from(blob.content);
  corrupt.writeUInt8(corrupt.readUInt8(4 * MiB) ^ 0xff, 4 * MiB);
  writeFileSync(file, corrupt);
  await assert.rejects(
    pipeline(await store.open(blob.digest, { buffers: new ReadBufferPool() }), new DurableFileWriter(path.join(work, "corrupt-copy"))),
    (error: unknown) => error instanceof AppError && error.code === "blob_corrupt",
  );

  rmSync(file);
  await assert.rejects(store.open(blob.digest, { buffers: new ReadBufferPool() }), (error: unknown) => error instanceof AppError && error.code === "blob_missing");
  assert.deepEqual(
    (await readdir(path.join(work, "blobs", "tmp"))).length,
    0,
    "no temporary file left behind",
  );
});

test("shared buffers are few and serve every pool in turn; past the limit pools read into ordinary buffers", async () => {
  // The test above kept chunks without handing them back: once collected, their shared
  // buffers make room for new ones.
  v8Collector()!();
  await new Promise((resolve) => setTimeout(resolve, 100));
  const blob = await stored(6 * MiB + 1);
  const allocatedBefore = readBuffersAllocated();
  for (let download = 0; download < 20; download++) {
    const copy = path.join(work, `turn-${download}`);
    await pipeline(await store.open(blob.digest, { buffers: new ReadBufferPool() }), new DurableFileWriter(copy));
    rmSync(copy);
  }
  // A pool per download, as send-blob.ts makes them: the buffers of one go on to the next.
  const allocated = readBuffersAllocated() - allocatedBefore;
  assert.ok(allocated <= 8, `${allocated} buffers allocated for 20 pools of 7 reads each`);

  const pool = new ReadBufferPool();
  const taken = Array.from({ length: 12 }, () => pool.take());
  const shared = taken.filter((buffer) => buffer.buffer instanceof SharedArrayBuffer).length;
  assert.ok(shared >= 1 && shared <= 8, `${shared} of 12 buffers held at once are shared`);
  assert.ok(taken.every((buffer) => buffer.length === MiB));
  for (const buffer of taken) pool.giveBack(buffer);
});
