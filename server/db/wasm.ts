/**
 * The database layer runs three WebAssembly engines: PGlite (PostgreSQL), Prisma's query
 * compiler and, in the migration process, Prisma's schema engine. By default V8 compiles
 * every function with its baseline compiler (Liftoff), then recompiles the hot ones with
 * TurboFan and keeps both: for PGlite that costs ~35 MiB of RSS and ~1 s of CPU at start.
 * Ferry's queries are small: point lookups run as fast on Liftoff code, and Prisma caches
 * the query plans it compiles; only large scans are slower (a 100k-row GROUP BY by ~13%).
 * See docs/BENCHMARKS.md (memory).
 */
import v8 from "node:v8";

let set = false;

/** Makes V8 compile WebAssembly with Liftoff only. Call before the first module compiles; later modules are unaffected otherwise. */
export function compileWasmWithLiftoffOnly(): void {
  if (set) return;
  v8.setFlagsFromString("--liftoff-only");
  set = true;
}
