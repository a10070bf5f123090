import type { Webhook, WebhookDelivery } from "../generated/prisma/client.js";

/** The secret never leaves the server after creation. */
export function presentWebhook(row: Webhook) {
  return { id: row.id, url: row.url, events: row.events, active: row.active, createdBy: row.createdBy, createdAt: row.createdAt };
}

export function presentDelivery(row: WebhookDelivery) {
  return {
    id: row.id,
    webhookId: row.webhookId,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === "pending" ? row.nextAttemptAt : null,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    createdAt: row.createdAt,
    deliveredAt: row.deliveredAt,
    payload: row.payload,
  };
}
