/**
 * How a webhook request is signed: `X-Ferry-Signature: sha256=<hex HMAC-SHA256 of the raw
 * body keyed with the webhook's secret>`. Receivers recompute it over the bytes they got.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SIGNATURE_HEADER = "X-Ferry-Signature";
export const EVENT_HEADER = "X-Ferry-Event";
export const DELIVERY_HEADER = "X-Ferry-Delivery";

export function signWebhookBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(rawBody).digest("hex")}`;
}

/** Constant-time check of a received signature header against the raw body. */
export function verifyWebhookSignature(secret: string, rawBody: string | Buffer, header: string | undefined | null): boolean {
  if (!header) return false;
  const expected = Buffer.from(signWebhookBody(secret, rawBody));
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
