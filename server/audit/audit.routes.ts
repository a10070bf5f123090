import { Router } from "express";
import { z } from "zod";
import type { RouteTable } from "../http/route.js";
import type { AuditLog } from "./audit.service.js";

const AuditQuery = z.strictObject({
  actor: z.string().max(200).optional(),
  target: z.string().max(500).optional(),
  /** The `seq` of the last event of the previous page: a PostgreSQL bigint (a larger number was a 500). */
  cursor: z
    .string()
    .refine((value) => /^\d{1,19}$/.test(value) && BigInt(value) <= 9_223_372_036_854_775_807n, "must be a nextCursor this server returned")
    .optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export function auditRoutes(routes: RouteTable, audit: AuditLog): Router {
  const router = Router();
  routes.add(router, "", {
    method: "get",
    path: "/audit",
    tag: "audit",
    summary: "Audit events, newest first",
    access: ["admin"],
    query: AuditQuery,
    handler: async ({ query }) => {
      const page = await audit.list(query);
      return {
        body: {
          items: page.items.map((event) => ({
            seq: String(event.seq),
            at: event.at,
            actor: event.actor,
            action: event.action,
            targetType: event.targetType,
            target: event.target,
            details: event.details,
            requestId: event.requestId,
            hash: event.hash,
          })),
          nextCursor: page.nextCursor,
        },
      };
    },
  });
  routes.add(router, "", {
    method: "get",
    path: "/audit/verify",
    tag: "audit",
    summary: "Recompute the audit hash chain",
    access: ["admin"],
    handler: async () => ({ body: await audit.verify() }),
  });
  return router;
}
