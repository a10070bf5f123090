/** Polling for end-to-end tests that wait on other processes (a server, an agent, a remote apply). */
import assert from "node:assert/strict";

/**
 * Polls `check` every 100 ms until it holds; fails with `what` and `context()` (say, a
 * process's output) after `timeoutMs`. Resolves to how long it took, in ms.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000, context = () => ""): Promise<number> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${timeoutMs} ms\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}
