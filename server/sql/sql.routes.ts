import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { presentScript, presentScriptDetail } from "./sql.presenter.js";
import { ReviewBody, ScriptListQuery, ScriptParams } from "./sql.schema.js";

export function sqlRoutes(routes: RouteTable, ctx: Pick<AppContext, "sql">): Router {
  const router = Router();
  const { sql } = ctx;

  routes.add(router, "", {
    method: "get",
    path: "/sql-scripts",
    tag: "sql",
    summary: "The SQL review queue: scripts with their lint findings, newest first",
    access: "authenticated",
    query: ScriptListQuery,
    handler: async ({ query }) => {
      const page = await sql.list(query);
      return { body: { items: page.items.map(presentScript), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/sql-scripts/:id",
    tag: "sql",
    summary: "One SQL script: metadata, content, findings, review history and earlier versions",
    access: "authenticated",
    params: ScriptParams,
    handler: async ({ params }) => {
      const { script, content, previous } = await sql.detail(params.id);
      return { body: presentScriptDetail(script, content, previous) };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/sql-scripts/:id/review",
    tag: "sql",
    summary: "Approve or reject a SQL script (a dba other than its uploader; rejecting needs a comment)",
    access: ["dba"],
    params: ScriptParams,
    body: ReviewBody,
    audit: { action: "sql.review", targetType: "sql_script" },
    responses: { 403: "four_eyes: the uploader cannot review their own script", 400: "comment_required" },
    handler: async ({ params, body, actor }) => {
      const script = await sql.review(params.id, actor, body.decision, body.comment);
      const { content, previous } = await sql.detail(script.id);
      return {
        body: presentScriptDetail(script, content, previous),
        audit: { target: script.id, details: { decision: body.decision, sha256: script.artifact.sha256, component: script.component, filename: script.artifact.filename } },
      };
    },
  });

  return router;
}
