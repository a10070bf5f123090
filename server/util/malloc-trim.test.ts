import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { pino } from "pino";
import { glibcMallocTrim, startMallocTrimmer, TrimSchedule } from "./malloc-trim.js";
import { v8Collector } from "./young-gc.js";
import { freshProcessOutput } from "../../test/support/fresh-process.js";

const gc = v8Collector()!;

const MiB = 1024 * 1024;
const glibc = glibcMallocTrim() !== null;
const skip = glibc ? false : "the C library is not glibc";

/**
 * Leaves malloc's heap as a large transfer does: many 64 KiB buffers freed, with small
 * allocations made in between still alive, so free() cannot shrink the heap from the top.
 */
function fragmentHeap(megabytes: number): Buffer[] {
  const transfer: Buffer[] = [];
  const survivors: Buffer[] = [];
  for (let i = 0; i < megabytes * 16; i += 1) {
    transfer.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i));
    survivors.push(Buffer.allocUnsafeSlow(256).fill(i));
  }
  transfer.length = 0;
  gc();
  return survivors;
}

test("on glibc, Ferry can bind malloc_trim", { skip: process.platform === "linux" ? false : "not Linux" }, () => {
  assert.ok(glibc, "this Linux machine runs glibc: koffi must bind malloc_trim");
});

test("an interval of 0 (FERRY_MALLOC_TRIM_MS=0) starts no trimmer", () => {
  assert.equal(startMallocTrimmer({ intervalMs: 0 }), undefined);
});

test("a trim gives the freed middle of malloc's heap back to the system", { skip }, async () => {
  const survivors = fragmentHeap(96);
  const grown = process.memoryUsage.rss();
  const trimmer = startMallocTrimmer({ intervalMs: 60_000 })!;
  try {
    // V8 frees dead buffers' memory on a background thread after gc() returns: trim until
    // those frees have landed, or give up.
    let after = trimmer.trimNow().after;
    for (const deadline = Date.now() + 5_000; after > grown - 48 * MiB && Date.now() < deadline; ) {
      await delay(20);
      after = trimmer.trimNow().after;
    }
    assert.ok(after <= grown - 48 * MiB, `RSS ${(grown / MiB).toFixed(0)} → ${(after / MiB).toFixed(0)} MiB`);
  } finally {
    trimmer.stop();
  }
  assert.equal(survivors.length, 96 * 16, "the live allocations stay intact");
  assert.ok(survivors.every((buffer, i) => buffer[255] === (i & 0xff)));
});

test("the trimmer trims on its own once memory grew, and not while it stays flat", { skip }, async () => {
  const trims: string[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => void trims.push(line) });
  const trimmer = startMallocTrimmer({ intervalMs: 20, growthBytes: 16 * MiB, logger })!;
  try {
    const settled = process.memoryUsage.rss();
    await delay(200);
    assert.equal(trims.length, 0, "no trim while memory is flat");
    const survivors = fragmentHeap(96);
    const grown = process.memoryUsage.rss();
    const target = settled + 24 * MiB;
    const deadline = Date.now() + 5_000;
    while (process.memoryUsage.rss() > target && Date.now() < deadline) await delay(20);
    const rss = process.memoryUsage.rss();
    assert.ok(rss <= target, `RSS ${(settled / MiB).toFixed(0)} → ${(grown / MiB).toFixed(0)} → ${(rss / MiB).toFixed(0)} MiB`);
    assert.ok(trims.length >= 1 && trims.every((line) => line.includes("gave freed malloc memory back")), trims.join(""));
    assert.equal(survivors.length, 96 * 16);
  } finally {
    trimmer.stop();
  }
});

test("the schedule trims only above floor + growth, never raises the floor, and backs off after fruitless trims", () => {
  const schedule = new TrimSchedule(16 * MiB, 200 * MiB);
  assert.equal(schedule.due(210 * MiB), false, "10 MiB over the floor: not yet");
  assert.equal(schedule.due(190 * MiB), false, "lower: the floor follows it down");
  assert.equal(schedule.due(205 * MiB), false, "15 MiB over the new floor (190)");
  assert.equal(schedule.due(206 * MiB), true, "16 MiB over the floor");

  // Fruitless trims (frees not landed yet) wait 2, 4, 8, then 12 ticks, 12 at most.
  const ticksUntilDue = () => {
    let skipped = 0;
    while (!schedule.due(250 * MiB) && skipped < 100) skipped += 1;
    return skipped;
  };
  const waits: number[] = [];
  for (let i = 0; i < 5; i += 1) {
    assert.equal(schedule.trimmed(250 * MiB, 249.5 * MiB), false);
    waits.push(ticksUntilDue());
  }
  assert.deepEqual(waits, [2, 4, 8, 12, 12]);

  // A fruitful trim resets the back-off, and a level it reached below the floor lowers it.
  assert.equal(schedule.trimmed(250 * MiB, 180 * MiB), true);
  assert.equal(schedule.due(196 * MiB), true, "16 MiB over the floor the trim reached (180)");
  assert.equal(schedule.trimmed(196 * MiB, 195.5 * MiB), false);
  assert.equal(ticksUntilDue(), 2, "back to the first back-off step");
  // Memory that settles back under the bar is left alone, however many ticks pass.
  for (let i = 0; i < 100; i += 1) assert.equal(schedule.due(195 * MiB), false);
});

/**
 * A fresh process hashes four passwords as logins do (scrypt with the parameters of
 * auth/passwords.ts: 16 MiB each, on libuv's threads) and reports how far its RSS grew.
 * Its own process, since the thresholds are process-wide and only act on what comes after.
 */
async function rssGrowthAfterPasswordHashes(fixThresholds: boolean): Promise<number> {
  const program = `
    import { scrypt } from "node:crypto";
    import { promisify } from "node:util";
    import { fixMallocThresholds } from ${JSON.stringify(new URL("./malloc-trim.ts", import.meta.url).href)};
    if (${fixThresholds} && !fixMallocThresholds()) throw new Error("mallopt refused the thresholds");
    const hash = (i) => promisify(scrypt)("password " + i, "salt", 32, { N: 16384, r: 8, p: 1 });
    const before = process.memoryUsage.rss();
    for (let i = 0; i < 4; i += 1) await hash(i);
    await Promise.all([hash(4), hash(5)]);
    console.log(process.memoryUsage.rss() - before);
  `;
  return Number(await freshProcessOutput(program));
}

test("with malloc's thresholds fixed, password hashes leave no memory behind; glibc's default keeps 16 MiB per hash thread", { skip }, async () => {
  const [fixed, dynamic] = await Promise.all([rssGrowthAfterPasswordHashes(true), rssGrowthAfterPasswordHashes(false)]);
  // Half of the 16 MiB one hash leaves behind without the fix: the process grows by a little
  // for its own reasons (thread stacks, code), which once measured 4.1 MiB on a CI run.
  assert.ok(fixed < 8 * MiB, `fixed thresholds: RSS grew ${(fixed / MiB).toFixed(1)} MiB`);
  // The case the fix is for, so this test fails if the scenario no longer reproduces.
  assert.ok(dynamic >= 16 * MiB, `glibc's dynamic threshold: RSS grew ${(dynamic / MiB).toFixed(1)} MiB`);
});
