/**
 * How far V8 lets the JavaScript heap grow before its next full collection.
 *
 * After a full collection, V8 lets the old generation grow to a multiple of what survived
 * before it collects again. Left to itself it picks between 1.1× and 4×. Under request load,
 * a server whose live heap is ~40 MiB grew to 4× that, although nothing leaked.
 * `--heap-growing-percent=N` fixes the multiple at 1 + N/100. Servers and workers set it
 * themselves, once they know their database:
 * - PostgreSQL: 100 (2×). It cost no measurable throughput and kept request load under
 *   200 MiB.
 * - Embedded (PGlite): 50 (1.5×). PostgreSQL's own memory (~60 MiB) lives in the same
 *   process. 16 clients writing audited rows peaked at 203–210 MiB with 100, 193–196 with
 *   75 and 184–190 with 50, at the same write rate (the database is what they wait for).
 *   30 took 5–7 MiB off the peak of a bundle build, but with ~32 MB live that leaves too
 *   little room: uploads ran a full collection every 0.3 s on average, each freeing under
 *   1 MB (9 in 2 GiB against 1), and the upload bench lost ~20%.
 * The numbers are in docs/BENCHMARKS.md. A `--heap-growing-percent` on the command line wins.
 */
import v8 from "node:v8";
import { v8Collector } from "./young-gc.js";

export const HEAP_GROWING_PERCENT = { postgresql: 100, pglite: 50 } as const;

/** Whether Node was started with its own `--heap-growing-percent` (V8 takes `_` for `-` too). */
export function heapGrowthFromCommandLine(execArgv: readonly string[] = process.execArgv): boolean {
  return execArgv.some((arg) => /^--heap[-_]growing[-_]percent(=|$)/.test(arg));
}

/**
 * Sets the growing factor for a process on `database`. Returns the percent set, or null
 * when the command line chose one.
 *
 * V8 applies the factor when it next computes the heap's limit, after a full collection.
 * Until then the limit it set at start-up holds, and that one was computed with V8's own
 * factor: under load right after a start, an embedded server grew to 237 MiB before its
 * first full collection. So one full collection runs here, once, at start-up (a few ms).
 */
export function setHeapGrowth(database: keyof typeof HEAP_GROWING_PERCENT): number | null {
  if (heapGrowthFromCommandLine()) return null;
  const percent = HEAP_GROWING_PERCENT[database];
  v8.setFlagsFromString(`--heap-growing-percent=${percent}`);
  v8Collector()?.();
  return percent;
}
