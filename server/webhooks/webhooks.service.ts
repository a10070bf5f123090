/**
 * Webhooks: registrations (admin) and the EventSink that the other domains emit into.
 * emit() only records one pending delivery per matching webhook, so it is cheap and never
 * fails the request that caused the event; the DeliveryLoop sends them.
 */
import { randomBytes } from "node:crypto";
import type { Db } from "../db/client.js";
import { notFound } from "../errors.js";
import { afterCommit } from "../db/transaction-scope.js";
import type { Logger } from "../logger.js";
import { seal } from "../secrets/envelope.js";
import type { EventName, EventSink } from "./events.js";
import { DEFAULT_DELIVERY_OPTIONS, DeliveryLoop, type DeliveryOptions } from "./webhooks.delivery.js";

export type WebhookServiceOptions = Partial<DeliveryOptions>;

export interface CreateWebhookInput {
  url: string;
  events: EventName[];
  secret?: string;
}

export class WebhookService implements EventSink {
  private readonly loop: DeliveryLoop;
  private readonly logger: Logger;

  constructor(
    private readonly db: Db,
    private readonly secretKey: Buffer,
    logger: Logger,
    options: WebhookServiceOptions = {},
  ) {
    this.logger = logger.child({ domain: "webhooks" });
    this.loop = new DeliveryLoop(db, secretKey, this.logger, { ...DEFAULT_DELIVERY_OPTIONS, ...options });
  }

  /** Starts sending deliveries from this process. */
  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  async emit(event: EventName, payload: Record<string, unknown>): Promise<void> {
    try {
      const hooks = await this.db.webhook.findMany({ where: { active: true, events: { has: event } }, select: { id: true } });
      if (!hooks.length) return;
      // Round-trip through JSON so Dates become strings and BigInts fail here, not later.
      const data = JSON.parse(JSON.stringify(payload, (_key, value) => (typeof value === "bigint" ? Number(value) : value)));
      // Inside a request's transaction this is a savepoint: the deliveries commit with the
      // change that caused them, and a failed insert (a webhook deleted meanwhile) rolls back only itself.
      await this.db.$transaction((tx) => tx.webhookDelivery.createMany({ data: hooks.map((hook) => ({ webhookId: hook.id, event, payload: data })) }));
      await afterCommit(() => this.loop.wake());
    } catch (error) {
      // Losing a notification is logged, never turned into a failed request (nor, inside
      // one, into a rolled-back change).
      this.logger.error({ err: error, event }, "recording webhook deliveries failed");
    }
  }

  /** Registers a webhook; returns the row and the plaintext secret (shown once). */
  async create(input: CreateWebhookInput, createdBy: string) {
    const secret = input.secret ?? `whsec_${randomBytes(32).toString("base64url")}`;
    const row = await this.db.webhook.create({
      data: { url: input.url, events: [...new Set(input.events)], secret: seal(this.secretKey, secret), createdBy },
    });
    return { row, secret };
  }

  list() {
    return this.db.webhook.findMany({ orderBy: { createdAt: "asc" } });
  }

  async get(id: string) {
    const row = await this.db.webhook.findUnique({ where: { id } });
    if (!row) throw notFound("webhook", id);
    return row;
  }

  /** Deletes a webhook and its delivery history; pending deliveries are dropped. */
  async remove(id: string) {
    const { count } = await this.db.webhook.deleteMany({ where: { id } });
    if (!count) throw notFound("webhook", id);
  }

  async deliveries(id: string, page: { cursor?: string; limit: number; status?: string }) {
    await this.get(id);
    const rows = await this.db.webhookDelivery.findMany({
      where: { webhookId: id, ...(page.status ? { status: page.status } : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: page.limit + 1,
      ...(page.cursor ? { cursor: { id: page.cursor }, skip: 1 } : {}),
    });
    const items = rows.slice(0, page.limit);
    return { items, nextCursor: rows.length > page.limit ? items[items.length - 1]!.id : null };
  }
}
