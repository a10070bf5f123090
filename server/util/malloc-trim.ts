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
 * `fixMallocThresholds` keeps large short-lived allocations out of malloc's heaps in the
 * first place (see there).
 *
 * How many heaps there are is set from outside: glibc gives threads that allocate their own
 * heap (an arena), up to 8 per core, and memory freed in one is reused only by the threads
 * on it. `npm start`, the image and the tests' server processes set `MALLOC_ARENA_MAX=2`.
 * An embedded server's peak during 2 GiB bundle builds: 188–193 MiB with it, 191–193
 * without (16 allowed); during 1 GiB uploads and downloads 186–188 against 191; no
 * throughput lost (docs/BENCHMARKS.md). `=1` saved 2–3 MiB more and slowed downloads: the
 * event loop and the hashing thread then share one heap's lock. The same `mallopt` from here
 * came too late: glibc fixes the limit when the arenas are created, and Node's own threads
 * create them before any JavaScript runs (197–201 MiB in bundle builds, no change).
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

interface GlibcMalloc {
  mallocTrim(pad: number): number;
  mallopt(param: number, value: number): number;
}

let glibc: GlibcMalloc | null | undefined;

/**
 * glibc's malloc controls, or null where they cannot be bound: binding is the test, since
 * only glibc has both `libc.so.6` and `malloc_trim` (musl has neither, macOS no `libc.so.6`).
 */
function glibcMalloc(): GlibcMalloc | null {
  if (glibc !== undefined) return glibc;
  glibc = null;
  if (process.platform !== "linux") return glibc;
  try {
    const koffi = createRequire(import.meta.url)("koffi") as typeof import("koffi");
    const libc = koffi.load("libc.so.6");
    glibc = {
      mallocTrim: libc.func("int malloc_trim(size_t)") as GlibcMalloc["mallocTrim"],
      mallopt: libc.func("int mallopt(int, int)") as GlibcMalloc["mallopt"],
    };
  } catch {
    // Not glibc, or no koffi binary for this platform: malloc is left as it is.
  }
  return glibc;
}

/** glibc's `malloc_trim`, or null where it cannot be bound. */
export function glibcMallocTrim(): ((pad: number) => number) | null {
  return glibcMalloc()?.mallocTrim ?? null;
}

/** `mallopt` parameters, from glibc's malloc.h. */
const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Allocations from this size up get their own mapping, which free() unmaps. */
const MMAP_THRESHOLD_BYTES = 2 * 1024 * 1024;
/** Free memory above this at the top of a heap goes back to the system at once (glibc's own rule: twice the mmap threshold). */
const TRIM_THRESHOLD_BYTES = 2 * MMAP_THRESHOLD_BYTES;

/**
 * Fixes malloc's mmap threshold at 2 MiB. By default glibc raises the threshold to the size
 * of every mapped block freed, up to 32 MiB. The first password hash (scrypt takes 16 MiB
 * for a moment) lifted it to 16 MiB, so every later hash took its 16 MiB from the heap of
 * the thread that ran it, and that heap kept it: ~30 MiB of an idle embedded server after
 * a few logins (docs/BENCHMARKS.md). With the threshold fixed, blocks of 2 MiB and more are mapped and
 * unmapped on their own, while the 64 KiB and 1 MiB buffers of transfers keep coming from
 * the heap, where they are reused without a system call. Setting the threshold turns off
 * glibc's adjustment of the trim threshold too, so that one is set to what glibc's rule
 * would give. Call it before the process allocates much: it only changes what comes after.
 * Returns whether the thresholds were set.
 */
export function fixMallocThresholds(): boolean {
  const malloc = glibcMalloc();
  if (!malloc) return false;
  // mallopt answers 1 on success.
  return malloc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) === 1 && malloc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) === 1;
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
