import { z } from "zod";
import { SQL_STATUSES } from "./sql.types.js";

export const ScriptListQuery = z.strictObject({
  status: z.enum(SQL_STATUSES).optional(),
  component: z.string().min(1).max(200).optional(),
  database: z.string().min(1).max(100).optional(),
  cursor: z.string().min(1).max(100).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const ScriptParams = z.strictObject({ id: z.string().min(1).max(100) });

export const ReviewBody = z.strictObject({
  decision: z.enum(["approve", "reject"]),
  comment: z.string().max(4000).optional(),
});
