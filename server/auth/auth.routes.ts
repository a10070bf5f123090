import { Router } from "express";
import { ipKeyGenerator, rateLimit } from "express-rate-limit";
import { tooManyRequests } from "../errors.js";
import type { RouteTable } from "../http/route.js";
import { actorName, hasAnyRole } from "./actor.js";
import { presentToken, presentUser } from "./auth.presenter.js";
import type { Db } from "../db/client.js";
import { AuthRepo } from "./auth.repo.js";
import { CreateTokenBody, CreateUserBody, LoginBody, TokenListQuery, TokenParams, UpdateUserBody, UserListQuery, UserParams } from "./auth.schema.js";
import type { AuthService } from "./auth.service.js";

export function authRoutes(routes: RouteTable, auth: AuthService, options: { db: Db; loginAttemptsPerMinute: number }): Router {
  const router = Router();
  const lists = new AuthRepo(options.db);
  const loginLimiter = rateLimit({
    windowMs: 60_000,
    limit: options.loginAttemptsPerMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    // Per client address and username, so one attacker cannot lock everyone out.
    keyGenerator: (req) => `${ipKeyGenerator(req.ip ?? "unknown")}|${String((req.body as { username?: unknown })?.username ?? "")}`,
    handler: () => {
      throw tooManyRequests("too many login attempts; try again in a minute", 60);
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/auth/login",
    tag: "auth",
    summary: "Exchange a username and password for a session JWT",
    access: "public",
    body: LoginBody,
    before: [loginLimiter],
    handler: async ({ body }) => {
      const session = await auth.login(body.username, body.password);
      return { body: { token: session.token, expiresAt: session.expiresAt, user: presentUser(session.user) } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/auth/me",
    tag: "auth",
    summary: "Who the current credentials belong to",
    access: "authenticated",
    handler: async ({ actor }) => ({ body: { username: actorName(actor), kind: actor.kind, roles: actor.roles } }),
  });

  routes.add(router, "", {
    method: "post",
    path: "/users",
    tag: "auth",
    summary: "Create a user",
    access: ["admin"],
    body: CreateUserBody,
    audit: { action: "user.create", targetType: "user" },
    handler: async ({ body }) => {
      const user = await auth.createUser(body);
      return { status: 201, body: presentUser(user), audit: { target: user.username, details: { roles: user.roles } } };
    },
  });

  routes.add(router, "", {
    method: "patch",
    path: "/users/:id",
    tag: "auth",
    summary: "Disable or enable a user, or set their roles; a disabled user's sessions, tokens and download links stop working at once",
    access: ["admin"],
    params: UserParams,
    body: UpdateUserBody,
    audit: { action: "user.update", targetType: "user" },
    responses: { 200: "{id, username, roles, disabled, createdAt}", 404: "no such user", 409: "last_admin" },
    handler: async ({ params, body }) => {
      const user = await auth.updateUser(params.id, body);
      return { body: presentUser(user), audit: { target: user.username, details: { ...body } } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/users",
    tag: "auth",
    summary: "List users by username (keyset paging with cursor)",
    access: ["admin"],
    query: UserListQuery,
    handler: async ({ query }) => {
      const page = await lists.listUsers(query);
      return { body: { items: page.items.map(presentUser), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/tokens",
    tag: "auth",
    summary: "Create an API token for yourself (shown once)",
    access: "authenticated",
    body: CreateTokenBody,
    audit: { action: "token.create", targetType: "token" },
    handler: async ({ actor, body }) => {
      const { row, secret } = await auth.createToken(actor, body);
      return {
        status: 201,
        body: { id: row.id, token: secret, name: row.name, roles: row.roles, expiresAt: row.expiresAt },
        audit: { target: row.id, details: { name: row.name, roles: row.roles } },
      };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/tokens",
    tag: "auth",
    summary: "List your API tokens, newest first (admins: ?all=true for everyone's; keyset paging with cursor)",
    access: "authenticated",
    query: TokenListQuery,
    handler: async ({ actor, query }) => {
      const all = query.all === "true" && hasAnyRole(actor, ["admin"]);
      const page = await lists.listTokens(actor, { all, cursor: query.cursor, limit: query.limit });
      return { body: { items: page.items.map(presentToken), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "delete",
    path: "/tokens/:id",
    tag: "auth",
    summary: "Revoke an API token",
    access: "authenticated",
    params: TokenParams,
    audit: { action: "token.revoke", targetType: "token" },
    handler: async ({ actor, params }) => {
      await auth.revokeToken(actor, params.id);
      return { status: 204 };
    },
  });

  return router;
}
