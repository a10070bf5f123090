/**
 * Coalesces concurrent one-key database lookups into one query per batch (the site-token
 * lookup, the agent check-in). Under load the cost of a query (driver, round trip,
 * PostgreSQL's per-statement work) is paid once for many requests; alone, a key waits
 * for one turn of the event loop.
 *
 * A key only ever joins a batch that has not started yet, never one already in flight, so
 * every answer comes from a query that began after the caller asked: a token revoked
 * (committed) by any process before a request arrived is refused, exactly as with one
 * query per request.
 */
export interface MicroBatchOptions {
  /** Most keys in one query. */
  maxSize: number;
  /** Most queries in flight at once; further keys wait and form the next batch. */
  maxConcurrent: number;
  /**
   * When a batch fails, load each of its keys alone, so one key the database refuses (a
   * value it cannot store) fails only its own caller, as it would without batching.
   */
  isolateFailures?: boolean;
}

interface Waiter<K, V> {
  key: K;
  resolve(value: V): void;
  reject(error: unknown): void;
}

export class MicroBatch<K, V> {
  private pending: Array<Waiter<K, V>> = [];
  private running = 0;
  private scheduled = false;

  /** `load` answers each key of the batch, in order. */
  constructor(
    private readonly load: (keys: K[]) => Promise<V[]>,
    private readonly options: MicroBatchOptions,
  ) {}

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.pending.push({ key, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.running >= this.options.maxConcurrent) return;
    this.scheduled = true;
    // Keys that arrive in the same turn of the event loop (requests parsed from one read of
    // the sockets) share the batch.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.pending.length && this.running < this.options.maxConcurrent) {
      const batch = this.pending.splice(0, this.options.maxSize);
      this.running += 1;
      this.run(batch).finally(() => {
        this.running -= 1;
        if (this.pending.length) this.schedule();
      });
    }
  }

  private async run(batch: Array<Waiter<K, V>>): Promise<void> {
    try {
      const values = await this.load(batch.map((waiter) => waiter.key));
      batch.forEach((waiter, i) => waiter.resolve(values[i]!));
    } catch (error) {
      if (!this.options.isolateFailures || batch.length === 1) {
        for (const waiter of batch) waiter.reject(error);
        return;
      }
      await Promise.all(batch.map((waiter) => this.run([waiter])));
    }
  }
}
