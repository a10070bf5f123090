import { z } from "zod";
import { EVENT_NAMES } from "./events.js";

/** Only http(s) targets; anything else (file:, ftp:, javascript:) is refused. */
const WebhookUrl = z
  .string()
  .max(2000)
  .refine((value) => {
    try {
      const url = new URL(value);
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
    } catch {
      return false;
    }
  }, "must be an absolute http:// or https:// URL");

export const CreateWebhookBody = z.strictObject({
  url: WebhookUrl,
  events: z.array(z.enum(EVENT_NAMES)).min(1).max(EVENT_NAMES.length * 2),
  secret: z.string().min(16, "must be at least 16 characters").max(256).optional(),
});

export const WebhookParams = z.strictObject({ id: z.uuid() });

export const DeliveryListQuery = z.strictObject({
  status: z.enum(["pending", "delivered", "failed"]).optional(),
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});
