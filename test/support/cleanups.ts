/** Running a test file's clean-ups in an `after` hook. */
import type { Cleanups } from "./cluster.js";

/** Runs the clean-ups newest first; one that fails is logged and the rest still run. */
export async function runCleanups(cleanups: Cleanups): Promise<void> {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
}
