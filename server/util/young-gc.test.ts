import assert from "node:assert/strict";
import { test } from "node:test";
import { PassThrough, Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DigestMeter } from "../storage/digest.js";
import { ReadBufferPool } from "../storage/read-buffers.js";
import { COLLECT_EVERY_BYTES, noteTransientBytes, youngCollections } from "./young-gc.js";

const MiB = 1024 * 1024;
const TRANSFER_BYTES = 192 * MiB;

/** A transfer as Node's HTTP parser delivers an upload: a fresh 64 KiB buffer per chunk. */
function freshChunks(total: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= total) return void this.push(null);
      sent += 64 * 1024;
      this.push(Buffer.allocUnsafeSlow(64 * 1024).fill(sent & 0xff));
    },
  });
}

/** The most ArrayBuffer memory alive above where it stood when the transfer began, while `stage` carried it. */
async function peakBufferGrowth(stage: Transform): Promise<number> {
  const start = process.memoryUsage().arrayBuffers;
  let peak = start;
  const sink = new Writable({
    write(_chunk: Buffer, _encoding, callback) {
      peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      callback();
    },
  });
  await pipeline(freshChunks(TRANSFER_BYTES), stage, sink);
  return peak - start;
}

test("a transfer through the blob store's hashing stream holds few dead buffers; through a plain stream, V8 lets 32 MiB pile up", async () => {
  // Inline hashing (a small announced size): the offloading ring would count as buffers too.
  const metered = await peakBufferGrowth(new DigestMeter({ expectedBytes: 1 }));
  const plain = await peakBufferGrowth(new PassThrough());
  assert.ok(metered < COLLECT_EVERY_BYTES + 8 * MiB, `through DigestMeter: ${(metered / MiB).toFixed(1)} MiB of buffers at the peak`);
  // What V8 does on its own, so this test fails if that ever stops being a problem.
  assert.ok(plain >= 24 * MiB, `through a PassThrough: ${(plain / MiB).toFixed(1)} MiB of buffers at the peak`);
});

test("a collection runs once per COLLECT_EVERY_BYTES reported, not per chunk", () => {
  const before = youngCollections();
  for (let sent = 0; sent < 4 * COLLECT_EVERY_BYTES; sent += 64 * 1024) noteTransientBytes(64 * 1024);
  // However far the counter already was towards a collection, 4 × the interval crosses it 4 times.
  assert.equal(youngCollections() - before, 4);
});

test("chunks lent from a read-buffer pool are reused memory, not garbage: they do not count", async () => {
  const pool = new ReadBufferPool(64 * 1024);
  const before = youngCollections();
  const meter = new DigestMeter({ expectedBytes: 1 });
  const source = Readable.from(
    (function* () {
      for (let sent = 0; sent < 4 * COLLECT_EVERY_BYTES; sent += 64 * 1024) yield pool.lend(pool.take(), 64 * 1024);
    })(),
  );
  await pipeline(source, meter, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
  assert.equal(youngCollections(), before);
});
