/**
 * The heap growing factor set from inside a process takes effect, and a factor given on the
 * command line wins. Each case runs in a fresh Node.js process that keeps ~40 MiB live and
 * churns objects that live long enough to be promoted, then die: the peak of its used heap
 * follows how far V8 lets the old generation grow before a full collection.
 *
 *   node --import tsx --test server/util/heap-growth.test.ts
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { freshProcessOutput } from "../../test/support/fresh-process.js";
import { heapGrowthFromCommandLine } from "./heap-growth.js";

const moduleUrl = pathToFileURL(path.join(import.meta.dirname, "heap-growth.ts")).href;

/** The child's peak used heap in MiB, and what setHeapGrowth returned there ("unset" when not called). */
async function churn(options: { database?: "postgresql" | "pglite"; nodeFlags?: string[] }): Promise<{ peakMiB: number; set: number | null | "unset" }> {
  const program = `
    import v8 from "node:v8";
    import { setHeapGrowth } from ${JSON.stringify(moduleUrl)};
    const set = ${options.database ? `setHeapGrowth(${JSON.stringify(options.database)})` : `"unset"`};
    const MiB = 1024 * 1024;
    const live = [];
    for (let i = 0; i < 40; i++) live.push(new Array(MiB / 8).fill(0).map((_, j) => j));
    const recent = new Array(20000);
    let peak = 0;
    for (let i = 0; i < 2000000; i++) {
      recent[i % recent.length] = { numbers: new Array(64).fill(i), label: "item " + i };
      if (i % 1000 === 0) peak = Math.max(peak, v8.getHeapStatistics().used_heap_size);
    }
    console.log(JSON.stringify({ peakMiB: peak / MiB, set, live: live.length }));
  `;
  return JSON.parse(await freshProcessOutput(program, ["--max-semi-space-size=4", ...(options.nodeFlags ?? [])]));
}

describe("heap growth", () => {
  it("recognizes a factor given on the command line, in either spelling", () => {
    assert.equal(heapGrowthFromCommandLine(["--heap-growing-percent=50"]), true);
    assert.equal(heapGrowthFromCommandLine(["--heap_growing_percent", "50"]), true);
    assert.equal(heapGrowthFromCommandLine(["--max-semi-space-size=4", "--heap-growing-percent-x=1"]), false);
    assert.equal(heapGrowthFromCommandLine([]), false);
  });

  it("set at run time, it bounds the heap; a factor on the command line wins", async () => {
    // One at a time, so that no run's peak depends on another's load.
    const unset = await churn({});
    const embedded = await churn({ database: "pglite" });
    const postgres = await churn({ database: "postgresql" });
    const commandLine = await churn({ database: "pglite", nodeFlags: ["--heap-growing-percent=300"] });
    const peaks = `peaks: V8's own choice ${unset.peakMiB.toFixed(0)} MiB, embedded ${embedded.peakMiB.toFixed(0)}, PostgreSQL ${postgres.peakMiB.toFixed(0)}, command line 300% ${commandLine.peakMiB.toFixed(0)}`;
    assert.equal(embedded.set, 50);
    assert.equal(postgres.set, 100);
    assert.equal(commandLine.set, null);
    // Measured in plain Node.js here: V8's own choice and 300% peak at 135-149 MiB, 50% at 81-87, 100% at 67-77.
    assert.ok(embedded.peakMiB < unset.peakMiB * 0.75, peaks);
    assert.ok(postgres.peakMiB < unset.peakMiB * 0.75, peaks);
    assert.ok(commandLine.peakMiB > postgres.peakMiB * 1.5, peaks);
  });
});
