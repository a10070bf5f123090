/**
 * Keeps the buffers of a transfer from piling up in memory before V8 frees them.
 *
 * A stream that carries a file through the process gets a fresh buffer per chunk: 64 KiB
 * copies of the request body from Node's HTTP parser, 1 MiB reads from the file system.
 * Each one is garbage a moment later, but its memory only goes back to malloc at a
 * young-generation collection. V8 starts one on its own once 32 MiB of such buffers wait
 * (twice its default semi-space, whatever `--max-semi-space-size` says), so every upload
 * and download held up to 32 MiB of dead buffers. On the embedded profile, that was the
 * difference between staying under 200 MiB and going over it (docs/BENCHMARKS.md).
 *
 * So the streams that see every byte of a transfer (`DigestMeter`, `VerifyingStream`)
 * report the bytes they pass, and after every COLLECT_EVERY_BYTES this module runs a
 * young-generation collection itself. A scavenge with few survivors took 0.5–1 ms here,
 * 128 of them per GiB. Chunks in reused read buffers (bundle builds and large downloads,
 * read-buffers.ts) are not garbage and are not reported.
 *
 * The collector is reached through V8's `gc` extension. It is enabled at run time, so it
 * works however the process was started. Where it cannot be enabled, nothing is collected
 * early, and V8 keeps its own schedule.
 */
import v8 from "node:v8";
import vm from "node:vm";

/** How many transient bytes pass between two collections. */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/** V8's `gc`: a full collection without options, a young-generation one with `{ type: "minor" }`. */
export type GcFunction = (options?: { type: "minor" | "major"; execution?: "sync" | "async" }) => void;

let collector: GcFunction | null | undefined;
let bytesSinceCollection = 0;
let collections = 0;

/**
 * V8's collector, or null when it cannot be had. `--expose-gc` set after start-up adds
 * `gc` to contexts created from then on, so a fresh vm context hands it over without
 * putting it on this context's global object. Tests that measure memory use it too.
 */
export function v8Collector(): GcFunction | null {
  if (collector !== undefined) return collector;
  collector = null;
  try {
    v8.setFlagsFromString("--expose-gc");
    const gc: unknown = vm.runInNewContext("gc");
    if (typeof gc === "function") collector = gc as GcFunction;
  } catch {
    // Leave V8 to its own schedule.
  }
  return collector;
}

/** Records `bytes` of short-lived buffers passed on by a transfer; collects the young generation when enough have passed. */
export function noteTransientBytes(bytes: number): void {
  bytesSinceCollection += bytes;
  if (bytesSinceCollection < COLLECT_EVERY_BYTES) return;
  bytesSinceCollection = 0;
  const gc = v8Collector();
  if (!gc) return;
  gc({ type: "minor" });
  collections += 1;
}

/** Young-generation collections this module started (for tests). */
export function youngCollections(): number {
  return collections;
}
