import { z } from "zod";
import { DOWNLOAD_TICKET_PATTERN } from "./downloads.tickets.js";

export const DownloadParams = z.strictObject({ ticket: z.string().regex(DOWNLOAD_TICKET_PATTERN, "not a download link this server made") });

export const BundleLinkBody = z.strictObject({
  /** One part of a split bundle; without it, the whole bundle. */
  part: z.number().int().min(1).max(100_000).optional(),
});
