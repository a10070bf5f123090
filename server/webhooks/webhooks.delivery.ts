/**
 * The delivery loop: sends pending WebhookDelivery rows, with retries and exponential
 * backoff. Several server processes may run it against one database: a delivery is
 * claimed with a conditional update (only one process can move its `nextAttemptAt` from
 * the value it read to a lease in the future), so each attempt is made by one process,
 * and a process that dies mid-attempt only delays the delivery until its lease expires.
 */
import type { Db } from "../db/client.js";
import type { Logger } from "../logger.js";
import { open } from "../secrets/envelope.js";
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhookBody } from "./webhooks.signature.js";

export interface DeliveryOptions {
  /** Attempts before a delivery is marked failed. */
  maxAttempts: number;
  /** Delay before retry n (1-based) is retryBaseMs · 2^(n-1). */
  retryBaseMs: number;
  /** Per-request timeout. */
  timeoutMs: number;
  /** How often the loop looks for due deliveries it was not told about (other processes, retries). */
  pollMs: number;
  /** Deliveries sent concurrently per round. */
  batchSize: number;
}

export const DEFAULT_DELIVERY_OPTIONS: DeliveryOptions = {
  maxAttempts: 5,
  retryBaseMs: 10_000,
  timeoutMs: 10_000,
  pollMs: 2_000,
  batchSize: 10,
};

type DueDelivery = Awaited<ReturnType<DeliveryLoop["findDue"]>>[number];

/** The exact bytes sent for a delivery; rebuilt identically on every attempt. */
export function deliveryBody(row: { id: string; event: string; payload: unknown; createdAt: Date }): string {
  return JSON.stringify({ id: row.id, event: row.event, createdAt: row.createdAt.toISOString(), data: row.payload });
}

export class DeliveryLoop {
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private again = false;
  private running = false;
  /** The earliest retry this process scheduled, so the loop wakes for it before the next poll. */
  private soonestRetry = Infinity;
  private inFlight = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly secretKey: Buffer,
    private readonly logger: Logger,
    private readonly options: DeliveryOptions,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.inFlight.signal.aborted) this.inFlight = new AbortController();
    this.wake();
  }

  /** Stops polling and aborts in-flight requests (their claims are released for a retry). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.inFlight.abort();
    await this.round;
  }

  /** Runs a round now (after the current one, if one is running). */
  wake(): void {
    if (!this.running) return;
    if (this.round) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.round = this.runRounds().finally(() => {
      this.round = undefined;
      if (!this.running) return;
      const untilRetry = Math.max(0, this.soonestRetry - Date.now());
      this.timer = setTimeout(() => this.wake(), Math.min(this.options.pollMs, untilRetry));
    });
  }

  private async runRounds(): Promise<void> {
    do {
      this.again = false;
      // This round picks up every retry already due.
      if (this.soonestRetry <= Date.now()) this.soonestRetry = Infinity;
      try {
        const due = await this.findDue();
        await Promise.all(due.map((delivery) => this.attempt(delivery)));
        if (due.length === this.options.batchSize) this.again = true;
      } catch (error) {
        if (this.running) this.logger.error({ err: error }, "webhook delivery round failed");
      }
    } while (this.again && this.running);
  }

  private findDue() {
    return this.db.webhookDelivery.findMany({
      where: { status: "pending", nextAttemptAt: { lte: new Date() } },
      orderBy: { nextAttemptAt: "asc" },
      take: this.options.batchSize,
      include: { webhook: { select: { url: true, secret: true } } },
    });
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    // The lease covers the request's timeout with a margin; another process takes the
    // delivery over only if this one died before recording the outcome.
    const lease = new Date(Date.now() + this.options.timeoutMs + 30_000);
    const claimed = await this.db.webhookDelivery.updateMany({
      where: { id: delivery.id, status: "pending", nextAttemptAt: delivery.nextAttemptAt },
      data: { nextAttemptAt: lease, attempts: { increment: 1 } },
    });
    if (claimed.count !== 1) return;
    const attempt = delivery.attempts + 1;
    const outcome = await this.send(delivery);
    if (outcome.aborted) {
      // Shutting down: give the attempt back rather than count it.
      await this.db.webhookDelivery.updateMany({
        where: { id: delivery.id, nextAttemptAt: lease },
        data: { nextAttemptAt: new Date(), attempts: { decrement: 1 } },
      });
      return;
    }
    if (outcome.ok) {
      await this.db.webhookDelivery.updateMany({
        where: { id: delivery.id },
        data: { status: "delivered", deliveredAt: new Date(), lastStatus: outcome.status, lastError: null },
      });
      return;
    }
    const giveUp = attempt >= this.options.maxAttempts;
    const retryAt = new Date(Date.now() + this.options.retryBaseMs * 2 ** (attempt - 1));
    if (!giveUp) this.soonestRetry = Math.min(this.soonestRetry, retryAt.getTime());
    this.logger.warn({ delivery: delivery.id, webhook: delivery.webhookId, attempt, status: outcome.status, error: outcome.error }, "webhook delivery attempt failed");
    // updateMany: the webhook (and its deliveries) may have been deleted meanwhile.
    await this.db.webhookDelivery.updateMany({
      where: { id: delivery.id },
      data: {
        status: giveUp ? "failed" : "pending",
        nextAttemptAt: giveUp ? lease : retryAt,
        lastStatus: outcome.status ?? null,
        lastError: outcome.error,
      },
    });
  }

  private async send(delivery: DueDelivery): Promise<{ ok: boolean; aborted?: boolean; status?: number; error: string | null }> {
    let secret: string;
    try {
      secret = open(this.secretKey, delivery.webhook.secret);
    } catch {
      return { ok: false, error: "webhook secret cannot be decrypted with the current FERRY_SECRET_KEY" };
    }
    const body = deliveryBody(delivery);
    try {
      const response = await fetch(delivery.webhook.url, {
        method: "POST",
        redirect: "manual",
        headers: {
          "content-type": "application/json",
          "user-agent": "Ferry-Webhooks/1",
          [SIGNATURE_HEADER]: signWebhookBody(secret, body),
          [EVENT_HEADER]: delivery.event,
          [DELIVERY_HEADER]: delivery.id,
        },
        body,
        signal: AbortSignal.any([this.inFlight.signal, AbortSignal.timeout(this.options.timeoutMs)]),
      });
      // Drain so the connection can be reused; the receiver's body is not kept.
      await response.arrayBuffer().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true, status: response.status, error: null };
      return { ok: false, status: response.status, error: `receiver answered HTTP ${response.status}` };
    } catch (error) {
      if (this.inFlight.signal.aborted) return { ok: false, aborted: true, error: null };
      const name = (error as Error).name;
      const message = name === "TimeoutError" ? `no response within ${this.options.timeoutMs} ms` : describeFetchError(error);
      return { ok: false, error: message };
    }
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return (cause?.code ?? cause?.message ?? (error as Error).message ?? "request failed").slice(0, 500);
}
