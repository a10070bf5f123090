/**
 * Gives back to the system the memory glibc's malloc keeps after large transfers.
 *
 * Node reads sockets and files into 64 KiB buffers from malloc. After a 1 GiB upload the
 * main heap holds tens of MiB of freed chunks between allocations that are still alive, and
 * free() only ever returns the top of the heap: an embedded server measured 172–198 MiB
 * fresh and stayed at 233–249 MiB for good after one upload (docs/BENCHMARKS.md).
 * `malloc_trim(0)` also releases the free pages in the middle of the heap. It is a libc
 * call with no Node binding, so it goes through koffi (an FFI library whose prebuilt
 * binaries come as per-platform npm packages: it loads with install scripts skipped, as the
 * image's `npm ci --ignore-scripts` does).
 *
 * Only where the C library is glibc; elsewhere (musl, macOS) nothing is started.
 */
import { createRequire } from "node:module";
import type { Logger } from "../logger.js";

export interface MallocTrimmerOptions {
  /** How often resident memory is looked at; 0 turns trimming off (FERRY_MALLOC_TRIM_MS). */
  intervalMs: number;
  /** Trim while resident memory stands this much above the lowest level seen. */
  growthBytes?: number;
  logger?: Logger;
}

export interface MallocTrimmer {
  /** Trims now; resident bytes before and after. */
  trimNow(): { before: number; after: number };
  stop(): void;
}

const DEFAULT_GROWTH_BYTES = 16 * 1024 * 1024;
/** A trim that gives back less than this found nothing worth the walk. */
const FRUITLESS_BYTES = 1024 * 1024;
const MAX_BACKOFF_TICKS = 12;

let mallocTrim: ((pad: number) => number) | null | undefined;

/**
 * glibc's `malloc_trim`, or null where it cannot be bound: binding is the test, since only
 * glibc has both `libc.so.6` and `malloc_trim` (musl has neither, macOS no `libc.so.6`).
 */
export function glibcMallocTrim(): ((pad: number) => number) | null {
  if (mallocTrim !== undefined) return mallocTrim;
  mallocTrim = null;
  if (process.platform !== "linux") return mallocTrim;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    mallocTrim = koffi.load("libc.so.6").func("int malloc_trim(size_t)") as (pad: number) => number;
  } catch {
    // Not glibc, or no koffi binary for this platform: memory is simply not trimmed.
  }
  return mallocTrim;
}

/**
 * When to trim, given resident memory at each tick: while it stands `growthBytes` above the
 * lowest level seen. The bar is never raised: frees often land after the first look (a
 * transfer still running, V8 releasing buffers on a background thread), so a trim that gave
 * back nothing only makes the schedule wait longer before the next one (2, 4, 8, then
 * `MAX_BACKOFF_TICKS` ticks), which bounds what a process whose live memory really grew
 * pays (a walk of malloc's free lists, about a millisecond). Memory that does not grow is
 * never trimmed. Pure bookkeeping, so the policy is testable without a heap to fragment.
 */
export class TrimSchedule {
  private floor: number;
  private fruitless = 0;
  private ticksToSkip = 0;

  constructor(
    private readonly growthBytes: number,
    initialRss: number,
  ) {
    this.floor = initialRss;
  }

  /** Whether this tick should trim, resident memory being `rss`. */
  due(rss: number): boolean {
    this.floor = Math.min(this.floor, rss);
    if (rss < this.floor + this.growthBytes) return false;
    if (this.ticksToSkip > 0) {
      this.ticksToSkip -= 1;
      return false;
    }
    return true;
  }

  /** Records a trim's outcome; true when it gave back enough to be worth the walk. */
  trimmed(before: number, after: number): boolean {
    this.floor = Math.min(this.floor, after);
    if (before - after < FRUITLESS_BYTES) {
      this.fruitless += 1;
      this.ticksToSkip = Math.min(2 ** this.fruitless, MAX_BACKOFF_TICKS);
      return false;
    }
    this.fruitless = 0;
    return true;
  }
}

/**
 * Looks at resident memory every `intervalMs` and trims malloc's heap when the
 * `TrimSchedule` says so. The timer never keeps the process alive. Returns undefined when
 * turned off or where there is nothing to trim with (not glibc).
 */
export function startMallocTrimmer(options: MallocTrimmerOptions): MallocTrimmer | undefined {
  if (options.intervalMs <= 0) return undefined;
  const trim = glibcMallocTrim();
  if (!trim) {
    options.logger?.debug("malloc trimming unavailable (the C library is not glibc)");
    return undefined;
  }
  const schedule = new TrimSchedule(options.growthBytes ?? DEFAULT_GROWTH_BYTES, process.memoryUsage.rss());
  const trimNow = () => {
    const before = process.memoryUsage.rss();
    trim(0);
    return { before, after: process.memoryUsage.rss() };
  };
  const timer = setInterval(() => {
    if (!schedule.due(process.memoryUsage.rss())) return;
    const { before, after } = trimNow();
    if (schedule.trimmed(before, after)) {
      options.logger?.debug({ rssBefore: before, rssAfter: after }, "gave freed malloc memory back to the system");
    }
  }, options.intervalMs);
  timer.unref();
  return { trimNow, stop: () => clearInterval(timer) };
}
