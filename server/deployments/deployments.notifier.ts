/**
 * In-process wake-ups keyed by a string (a site id for agents waiting on work, a
 * deployment id for log followers). Only a hint: a notify from another server process
 * never arrives here, so every waiter also re-checks the database on a timer.
 */
import { afterCommit } from "../db/transaction-scope.js";

export class Notifier {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves true when notified, false after `ms` or when `signal` aborts. */
  wait(key: string, ms: number, signal?: AbortSignal): Promise<boolean> {
    if (ms <= 0 || signal?.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = (notified: boolean) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        set.delete(wake);
        if (!set.size && this.waiters.get(key) === set) this.waiters.delete(key);
        resolve(notified);
      };
      const wake = () => done(true);
      const onAbort = () => done(false);
      const timer = setTimeout(() => done(false), ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      set.add(wake);
    });
  }

  /** Wakes the waiters on `key`; inside a request's transaction, once it has committed (a waiter woken earlier would not see the change). */
  notify(key: string): void {
    void afterCommit(() => {
      for (const wake of [...(this.waiters.get(key) ?? [])]) wake();
    });
  }

  /** Keys somebody is waiting on right now. */
  keys(): string[] {
    return [...this.waiters.keys()];
  }
}
