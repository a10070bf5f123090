/**
 * The route table. Each route declares, in one place, who may call it, what it accepts
 * (zod), how it is audited and how it is documented. The same declaration drives
 * validation, the OpenAPI document and the role matrix tests, so a route cannot exist
 * without an access rule.
 */
import type { Request, Response, RequestHandler, Router } from "express";
import { z } from "zod";
import { LONE_SURROGATE } from "../../agent/wire-text.js";
import type { Actor, Role } from "../auth/actor.js";
import { actorName, hasAnyRole } from "../auth/actor.js";
import { forbidden, unauthorized, validationFailed } from "../errors.js";
import type { AuditLog } from "../audit/audit.service.js";
import type { Db } from "../db/client.js";
import { inTransaction } from "../db/transaction-scope.js";

export type Method = "get" | "head" | "post" | "put" | "patch" | "delete";

/**
 * - `public`: no authentication (health, login, signing key).
 * - `authenticated`: any signed-in user or token, whatever its roles.
 * - `site`: a site agent's token only.
 * - a list of roles: a user or token holding at least one of them.
 */
export type Access = "public" | "authenticated" | "site" | readonly Role[];

export interface HandlerInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Present unless the route is public. */
  actor: Actor;
  req: Request;
  res: Response;
  /**
   * Runs `work` (the handler's writes, returning its reply) in one transaction with the
   * route's audit event. For an audited route that reads a raw body stream: its transaction
   * starts after the stream is stored, not before. For a route outside a transaction (a long
   * poll): around the write it hands out; it may run again while none has written an event
   * (a claim lost to another poll writes none). Elsewhere the whole handler already runs in
   * one, and this only runs `work`.
   */
  commit<T extends Reply>(work: () => Promise<T>): Promise<T>;
}

/** What a JSON handler returns; a streaming handler writes to `res` itself and returns nothing. */
export interface Reply {
  status?: number;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Refines the audit event the route writes, or `false` to write none for this call
   * (only allowed where the route declares `audit.skippable` with its reason).
   */
  audit?: { target?: string; targetType?: string; details?: Record<string, unknown> } | false;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** Express path relative to the router's mount point, e.g. `/artifacts/:component`. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: P;
  query?: Q;
  /** A zod schema for a JSON body, or `"stream"` when the handler reads the raw request. */
  body?: B | "stream";
  /**
   * Audit action (e.g. `artifact.upload`). Required for every mutating route.
   * `skippable` names why some calls change nothing worth an audit event (an agent
   * heartbeat with no work to hand out); their handlers return `audit: false`.
   */
  audit?: { action: string; targetType: string; skippable?: string };
  /**
   * An audited route's handler runs in one database transaction with its audit event, so a
   * change never commits without its event, nor the event without the change, and a handler
   * that fails part-way leaves nothing behind. A route that cannot names why here (it holds
   * the request open, or writes the response itself); its event is then written after the
   * handler. A route that reads a raw body stream puts its writes in `commit` instead.
   */
  outsideTransaction?: string;
  /** Extra middleware before validation (rate limits, multipart parsing). */
  before?: RequestHandler[];
  responses?: Record<number, string>;
  handler: (input: HandlerInput<z.output<P>, z.output<Q>, z.output<B>>) => Promise<Reply | void>;
}

export interface RegisteredRoute {
  method: Method;
  /** Full path including the mount prefix. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType | "stream";
  responses?: Record<number, string>;
  audited: boolean;
  /** Whether the route's writes and its audit event run in one transaction (see RouteSpec.outsideTransaction). */
  transactional: boolean;
}

export interface RouteContext {
  audit: AuditLog;
  db: Db;
}

const empty = z.object({}).strict();

/** Deeper than any input Ferry takes (reports and inventories are a few levels); stops nesting bombs before they reach JSON.stringify or jsonb. */
export const MAX_INPUT_DEPTH = 64;

function textProblem(text: string): string | undefined {
  if (text.includes("\u0000")) return "must not contain a NUL character";
  if (LONE_SURROGATE.test(text)) return "is not valid Unicode (a lone surrogate)";
  return undefined;
}

/**
 * The first string (or object key) in `value` that no schema should have to think of: a
 * NUL character (PostgreSQL cannot store one in text or jsonb, so it surfaced as a 500
 * after validation passed), a lone surrogate (turned into U+FFFD on its way to the
 * database, or refused by jsonb), or nesting deeper than MAX_INPUT_DEPTH. Iterative, so a
 * deep input cannot exhaust the stack.
 */
export function findTextProblem(value: unknown): { path: string[]; message: string } | undefined {
  const stack: Array<{ value: unknown; path: string[] }> = [{ value, path: [] }];
  while (stack.length) {
    const { value: node, path } = stack.pop()!;
    if (typeof node === "string") {
      const problem = textProblem(node);
      if (problem) return { path, message: problem };
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (path.length >= MAX_INPUT_DEPTH) return { path: path.slice(0, 4), message: `is nested more than ${MAX_INPUT_DEPTH} levels deep` };
    for (const [key, child] of Object.entries(node)) {
      const problem = textProblem(key);
      if (problem) return { path, message: `has an invalid key: it ${problem}` };
      stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}

/** Throws 400 `validation_failed` for what findTextProblem finds in the `where` part of a request. */
export function checkInputText(value: unknown, where: string): void {
  const found = findTextProblem(value);
  if (!found) return;
  const at = [where, ...found.path.map((segment) => segment.slice(0, 100))].join(".");
  throw validationFailed(`invalid ${where}: ${at} ${found.message}`, { issues: [{ path: at, message: found.message }] });
}

function parseOrThrow(schema: z.ZodType, value: unknown, where: string): unknown {
  checkInputText(value, where);
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: [where, ...issue.path.map(String)].join("."),
    message: issue.message,
  }));
  throw validationFailed(`invalid ${where}: ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`, { issues });
}

export function authorize(access: Access, actor: Actor | undefined): void {
  if (access === "public") return;
  if (!actor) throw unauthorized();
  if (access === "site") {
    if (actor.kind !== "site") throw forbidden("forbidden", "this route is for site agents");
    return;
  }
  if (actor.kind === "site") throw forbidden("forbidden", "a site token may only call the agent API");
  if (access === "authenticated") return;
  if (!hasAnyRole(actor, access)) {
    throw forbidden("forbidden", `requires one of the roles: ${access.join(", ")}`, { required: access });
  }
}

export class RouteTable {
  readonly routes: RegisteredRoute[] = [];

  constructor(private readonly context: RouteContext) {}

  /** Registers a route on an Express router mounted at `prefix`. */
  add<P extends z.ZodType = typeof empty, Q extends z.ZodType = typeof empty, B extends z.ZodType = typeof empty>(
    router: Router,
    prefix: string,
    spec: RouteSpec<P, Q, B>,
  ): void {
    const mutating = !["get", "head"].includes(spec.method);
    if (mutating && !spec.audit && spec.access !== "public") {
      throw new Error(`route ${spec.method.toUpperCase()} ${prefix}${spec.path} must declare its audit action`);
    }
    const transactional = mutating && Boolean(spec.audit) && !spec.outsideTransaction;
    // A stream can take hours to arrive: such a handler opens its transaction with `commit`.
    const handlerInTransaction = transactional && spec.body !== "stream";
    const route = `${spec.method.toUpperCase()} ${prefix}${spec.path}`;
    this.routes.push({
      method: spec.method,
      path: prefix + spec.path,
      summary: spec.summary,
      tag: spec.tag,
      access: spec.access,
      params: spec.params,
      query: spec.query,
      body: spec.body,
      responses: spec.responses,
      audited: Boolean(spec.audit),
      transactional,
    });
    const paramsSchema = spec.params ?? empty.catchall(z.string());
    // A route that declares no query takes none, and one that declares no body takes an
    // empty one (or none): an ignored `?force=true` or `{"dryRun":true}` would mislead the caller.
    const querySchema = spec.query ?? empty;
    // Authorization runs before any `before` middleware, so nothing (a multipart upload,
    // say) is read from an unauthorized request.
    const checkAccess: RequestHandler = (req, res, next) => {
      // The route pattern for metrics labels, recorded while req.baseUrl is still the mount point.
      res.locals.routePattern = req.baseUrl + spec.path;
      authorize(spec.access, req.actor);
      next();
    };
    const run: RequestHandler = async (req, res) => {
      const params = parseOrThrow(paramsSchema, req.params, "params");
      const query = parseOrThrow(querySchema, req.query ?? {}, "query");
      let body: unknown = undefined;
      if (spec.body && spec.body !== "stream") body = parseOrThrow(spec.body, req.body ?? {}, "body");
      else if (!spec.body && req.body !== undefined) parseOrThrow(empty, req.body, "body");
      /** Writes the route's audit event for `reply`, unless it declines one; true when it wrote one. */
      const recordAudit = async (reply: Reply | void): Promise<boolean> => {
        if (reply?.audit === false && !spec.audit?.skippable) throw new Error(`route ${route} skipped its audit event without declaring audit.skippable`);
        if (!spec.audit || !req.actor || reply?.audit === false || (reply && (reply.status ?? 200) >= 400)) return false;
        await this.context.audit.record({
          actor: actorName(req.actor),
          action: spec.audit.action,
          targetType: reply?.audit ? (reply.audit.targetType ?? spec.audit.targetType) : spec.audit.targetType,
          target: (reply?.audit && reply.audit.target) || Object.values(req.params ?? {}).join("/"),
          details: reply?.audit ? reply.audit.details : undefined,
          requestId: String(req.id),
        });
        return true;
      };
      const transactionOptions = { onHookError: (error: unknown) => req.log?.error({ err: error }, "work after the request's transaction failed") };
      let committed = false;
      let eventWritten = false;
      const commit = async <T extends Reply>(work: () => Promise<T>): Promise<T> => {
        if (handlerInTransaction) return work();
        if (eventWritten) throw new Error(`route ${route} called commit after its audit event was written`);
        committed = true;
        return inTransaction(
          this.context.db,
          async () => {
            const reply = await work();
            eventWritten = await recordAudit(reply);
            return reply;
          },
          transactionOptions,
        );
      };
      const handle = async (): Promise<Reply | void> => {
        const reply = await spec.handler({
          params: params as z.output<P>,
          query: query as z.output<Q>,
          body: body as z.output<B>,
          actor: req.actor as Actor,
          req,
          res,
          commit,
        });
        if (handlerInTransaction && res.headersSent) {
          // The client would have been told of a change that might still roll back.
          throw new Error(`route ${route} wrote its response inside its transaction; declare outsideTransaction`);
        }
        if (committed) return reply;
        if (transactional && !handlerInTransaction && reply && reply.audit !== false && (reply.status ?? 200) < 400) {
          throw new Error(`route ${route} reads a raw body and is audited: its writes and audit event go through commit()`);
        }
        await recordAudit(reply);
        return reply;
      };
      const reply = handlerInTransaction ? await inTransaction(this.context.db, handle, transactionOptions) : await handle();
      if (!reply) return;
      if (reply.headers) res.set(reply.headers);
      res.status(reply.status ?? 200);
      if (reply.body === undefined) res.end();
      else res.json(reply.body);
    };
    router[spec.method](spec.path, checkAccess, ...(spec.before ?? []), run);
  }
}
