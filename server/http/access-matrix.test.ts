/**
 * The route-by-role authorization matrix. EXPECTED is the product's access policy written
 * down once; the test checks that (1) every route the server registers has a row and every
 * row a route, so no route can be added without deciding who may call it, and (2) each role
 * gets through exactly where its row says (anything but 401/403) and 403 elsewhere, and
 * anonymous callers get 401 except on public routes.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { ROLES, type Role } from "../auth/actor.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";

type Access = "public" | "authenticated" | "site" | Role[];

const EXPECTED: Record<string, Access> = {
  "POST /auth/login": "public",
  "GET /auth/me": "authenticated",
  "POST /users": ["admin"],
  "GET /users": ["admin"],
  "PATCH /users/:id": ["admin"],
  "POST /tokens": "authenticated",
  "GET /tokens": "authenticated",
  "DELETE /tokens/:id": "authenticated",
  "GET /audit": ["admin"],
  "GET /audit/verify": ["admin"],
  "PUT /artifacts/:component/:version/:filename": ["ci", "admin"],
  "POST /artifacts": ["ci", "admin"],
  "GET /artifacts": "authenticated",
  "GET /artifacts/:component/:version/:filename": "authenticated",
  "HEAD /artifacts/:component/:version/:filename": "authenticated",
  "GET /artifacts/:component/:version/:filename/info": "authenticated",
  "DELETE /artifacts/:component/:version/:filename": ["admin"],
  "GET /blobs/:sha256": "authenticated",
  "HEAD /blobs/:sha256": "authenticated",
  "POST /webhooks": ["admin"],
  "GET /webhooks": ["admin"],
  "DELETE /webhooks/:id": ["admin"],
  "GET /webhooks/:id/deliveries": ["admin"],
  "POST /customers": ["delivery", "operator", "admin"],
  "GET /customers": "authenticated",
  "GET /customers/:customer": "authenticated",
  "POST /customers/:customer/sites": ["operator", "delivery", "admin"],
  "GET /sites": "authenticated",
  "GET /sites/:id": "authenticated",
  "PATCH /sites/:id": ["operator", "delivery", "admin"],
  "POST /sites/:id/installed": ["operator", "delivery", "admin"],
  "POST /sites/:id/agent-token": ["operator", "admin"],
  "GET /sql-scripts": "authenticated",
  "GET /sql-scripts/:id": "authenticated",
  "POST /sql-scripts/:id/review": ["dba"],
  "GET /catalog": "authenticated",
  "GET /catalog/:component": "authenticated",
  "POST /catalog/reload": ["admin"],
  "POST /releases": ["ci", "delivery", "admin"],
  "PATCH /releases/:product/:version": ["ci", "delivery", "admin"],
  "POST /releases/:product/:version/seal": ["ci", "delivery", "admin"],
  "GET /releases": "authenticated",
  "GET /releases/:product/:version": "authenticated",
  "GET /releases/:product/:version/diff": "authenticated",
  "POST /gc": ["admin"],
  "GET /jobs/:id": ["admin"],
  "GET /images": "authenticated",
  "GET /images/:artifactId": "authenticated",
  "POST /bundles": ["delivery", "admin"],
  "GET /bundles": "authenticated",
  "GET /bundles/:id": "authenticated",
  "GET /bundles/:id/events": "authenticated",
  "GET /bundles/:id/download": "authenticated",
  "GET /sites/:id/plan": "authenticated",
  "POST /deployments": ["operator", "admin"],
  "GET /deployments": "authenticated",
  "GET /deployments/:id": "authenticated",
  "GET /deployments/:id/logs": "authenticated",
  "POST /deployments/:id/cancel": ["operator", "admin"],
  "POST /agent/heartbeat": "site",
  "POST /agent/deployments/:id/events": "site",
  "POST /agent/deployments/:id/watch": "site",
  "GET /agent/bundles/:id/download": "site",
  "POST /sites/:id/reports": ["operator", "admin"],
  "POST /artifacts/:component/:version/:filename/download-link": "authenticated",
  "POST /bundles/:id/download-link": "authenticated",
  "GET /downloads/:ticket": "public",
  "GET /signing-key": "public",
  "GET /openapi.json": "public",
};

/** Placeholder values that pass each parameter's validation but name nothing that exists. */
const PARAM_VALUES: Record<string, string> = {
  component: "matrix-component",
  version: "9.9.9",
  filename: "matrix.bin",
  sha256: "a".repeat(64),
  customer: "matrix-customer",
  product: "matrix-product",
};

function concretePath(pattern: string): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => PARAM_VALUES[name] ?? randomUUID());
}

let server: TestServer;
const tokens = new Map<Role, string>();
before(async () => {
  server = await startTestServer();
  for (const role of ROLES) tokens.set(role, (await server.user([role], `matrix-${role}`)).token);
});
after(async () => {
  await server?.close();
});

async function statusFor(method: string, pattern: string, token: string | undefined): Promise<number> {
  const headers: Record<string, string> = { "content-type": "application/json", "x-checksum-sha256": "not-a-digest" };
  if (token) headers.authorization = `Bearer ${token}`;
  const hasBody = !["GET", "HEAD", "DELETE"].includes(method);
  const response = await fetch(`${server.url}/api/v1${concretePath(pattern)}`, { method, headers, body: hasBody ? "{}" : undefined });
  await response.arrayBuffer();
  return response.status;
}

describe("authorization matrix", () => {
  test("every registered route has a row and every row a route", () => {
    const registered = server.routes.map((route) => `${route.method.toUpperCase()} ${route.path}`).sort();
    assert.deepEqual(registered, Object.keys(EXPECTED).sort());
    for (const route of server.routes) {
      assert.deepEqual(
        Array.isArray(route.access) ? [...route.access].sort() : route.access,
        (() => {
          const expected = EXPECTED[`${route.method.toUpperCase()} ${route.path}`]!;
          return Array.isArray(expected) ? [...expected].sort() : expected;
        })(),
        `${route.method.toUpperCase()} ${route.path}`,
      );
    }
  });

  test("every audited change runs in one transaction with its audit event, but the agent's two long polls", () => {
    // The heartbeat and the deployment watch are long polls: no transaction while they wait. Only the
    // heartbeat's hand-out commits, with its event (audit-atomicity.test.ts); the watch writes only the agent's last contact.
    const outside = server.routes
      .filter((route) => route.audited && !["get", "head"].includes(route.method) && !route.transactional)
      .map((route) => `${route.method.toUpperCase()} ${route.path}`);
    assert.deepEqual(outside, ["POST /agent/heartbeat", "POST /agent/deployments/:id/watch"]);
  });

  test("each role passes exactly where its row allows; anonymous callers get 401", async () => {
    const wrong: string[] = [];
    for (const [key, access] of Object.entries(EXPECTED)) {
      const [method, pattern] = key.split(" ") as [string, string];
      const anonymous = await statusFor(method, pattern, undefined);
      if (access === "public" ? anonymous === 401 || anonymous === 403 : anonymous !== 401) wrong.push(`${key} anonymous → ${anonymous}`);
      for (const role of ROLES) {
        const allowed = access === "public" || access === "authenticated" || (Array.isArray(access) && access.includes(role));
        const status = await statusFor(method, pattern, tokens.get(role));
        const passed = status !== 401 && status !== 403;
        if (passed !== allowed) wrong.push(`${key} as ${role} → ${status} (expected ${allowed ? "allowed" : "403"})`);
      }
    }
    assert.deepEqual(wrong, []);
  });
});
