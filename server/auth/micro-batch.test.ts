/**
 * MicroBatch on its own: keys asked for together share one load; a key never joins a load
 * already running (what keeps site-token revocation immediate); at most `maxConcurrent`
 * loads run; a failed batch fails alone per key when `isolateFailures` is set.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MicroBatch } from "./micro-batch.js";

/** A load whose calls can be held open and released by the test. */
function heldLoad(fail: (key: string) => boolean = () => false) {
  const calls: string[][] = [];
  const releases: Array<() => void> = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (keys.some(fail)) throw new Error(`refused ${keys.filter(fail).join(",")}`);
    return keys.map((key) => key.toUpperCase());
  };
  const releaseAll = () => releases.splice(0).forEach((release) => release());
  return { calls, load, releaseAll };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

async function until(condition: () => boolean): Promise<void> {
  for (let i = 0; !condition(); i++) {
    assert.ok(i < 1_000, "condition never became true");
    await turn();
  }
}

describe("MicroBatch", () => {
  it("loads keys asked for in the same turn together, and a key asked for during a load in a later one", async () => {
    const { calls, load, releaseAll } = heldLoad();
    const batch = new MicroBatch(load, { maxSize: 100, maxConcurrent: 1 });
    const first = [batch.get("a"), batch.get("b"), batch.get("c")];
    await until(() => calls.length === 1);
    assert.deepEqual(calls, [["a", "b", "c"]]);
    // The first load is running: these must wait for a load that starts after they were asked for.
    const second = [batch.get("d"), batch.get("e")];
    await turn();
    assert.equal(calls.length, 1, "no second load while maxConcurrent loads run");
    releaseAll();
    assert.deepEqual(await Promise.all(first), ["A", "B", "C"]);
    await until(() => calls.length === 2);
    assert.deepEqual(calls[1], ["d", "e"]);
    releaseAll();
    assert.deepEqual(await Promise.all(second), ["D", "E"]);
  });

  it("splits batches at maxSize and runs up to maxConcurrent loads at once", async () => {
    const { calls, load, releaseAll } = heldLoad();
    const batch = new MicroBatch(load, { maxSize: 2, maxConcurrent: 2 });
    const all = ["a", "b", "c", "d", "e"].map((key) => batch.get(key));
    await until(() => calls.length === 2);
    await turn();
    assert.deepEqual(calls, [["a", "b"], ["c", "d"]]);
    releaseAll();
    await until(() => calls.length === 3);
    assert.deepEqual(calls[2], ["e"]);
    releaseAll();
    assert.deepEqual(await Promise.all(all), ["A", "B", "C", "D", "E"]);
  });

  it("fails every key of a failed batch, or with isolateFailures only the key that fails alone", async () => {
    for (const isolateFailures of [false, true]) {
      const { load, releaseAll } = heldLoad((key) => key === "bad");
      const batch = new MicroBatch(load, { maxSize: 100, maxConcurrent: 2, isolateFailures });
      const results = Promise.allSettled(["a", "bad", "c"].map((key) => batch.get(key)));
      const releasing = setInterval(releaseAll, 1);
      const settled = await results;
      clearInterval(releasing);
      const outcome = settled.map((result) => (result.status === "fulfilled" ? result.value : "rejected"));
      assert.deepEqual(outcome, isolateFailures ? ["A", "rejected", "C"] : ["rejected", "rejected", "rejected"]);
    }
  });
});
