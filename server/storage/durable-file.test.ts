import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, test } from "node:test";
import { DurableFileWriter } from "./durable-file.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-durable-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const openDescriptors = () => readdirSync("/proc/self/fd").length;

/** Chunks of uneven sizes, as a socket delivers them. */
function* unevenChunks(total: number): Generator<Buffer> {
  let left = total;
  while (left > 0) {
    const size = Math.min(left, 1 + Math.floor(Math.random() * 300_000));
    left -= size;
    yield randomBytes(size);
  }
}

test("writes every byte in order across batched writes and background syncs", async () => {
  const file = path.join(dir, "a.bin");
  const chunks = [...unevenChunks(24 * 1024 * 1024)];
  const expected = createHash("sha256");
  for (const chunk of chunks) expected.update(chunk);
  await pipeline(Readable.from(chunks), new DurableFileWriter(file, { syncEveryBytes: 1024 * 1024 }));
  assert.equal(createHash("sha256").update(readFileSync(file)).digest("hex"), expected.digest("hex"));
});

test("refuses to overwrite an existing file and leaves it as it was", async () => {
  const file = path.join(dir, "exists.bin");
  writeFileSync(file, "keep me");
  await assert.rejects(pipeline(Readable.from([Buffer.from("new")]), new DurableFileWriter(file)), { code: "EEXIST" });
  assert.equal(readFileSync(file, "utf8"), "keep me");
});

test("a failed source releases the file descriptor, even with a background sync in flight", async () => {
  const before = openDescriptors();
  const file = path.join(dir, "broken.bin");
  async function* failing() {
    yield* unevenChunks(4 * 1024 * 1024);
    throw new Error("client went away");
  }
  const writer = new DurableFileWriter(file, { syncEveryBytes: 64 * 1024 });
  const closed = new Promise((resolve) => writer.once("close", resolve));
  await assert.rejects(pipeline(Readable.from(failing()), writer), /client went away/);
  await closed;
  assert.equal(openDescriptors(), before);
});
