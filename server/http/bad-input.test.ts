/**
 * A corpus of bad input against EVERY route of the route table (so a new route is covered
 * the day it is added): path parameters with traversal, NUL, unicode tricks and absurd
 * lengths; query strings with unknown keys, wrong types and out-of-range numbers; JSON
 * bodies that are malformed, oversized, of the wrong type, with unknown fields, or with
 * each declared field broken in turn (derived from the route's zod schema).
 *
 * Every such request is sent as a caller allowed on the route (an admin, or the site agent
 * for agent routes) and must get a 4xx with the SPEC §4 error shape, no stack trace, and
 * change nothing: the content of every table and every stored object is compared before
 * and after. Content formats (images, YAML, SQL, multipart, reports) have their own files:
 * *.bad-input.test.ts next to the code that reads them.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http from "node:http";
import querystring from "node:querystring";
import { gzipSync } from "node:zlib";
import type { z } from "zod";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { rawRequest, refusalProblems, type RawResponse } from "../../test/support/raw-http.js";
import { snapshotState, stateChanges } from "../../test/support/state-snapshot.js";
import { accepts, fieldsOf, NASTY_STRINGS, sample, withField, WRONG_TYPES } from "../../test/support/zod-samples.js";
import type { RegisteredRoute } from "./route.js";

/** Values that pass each parameter's validation but name nothing that exists (as in the access matrix). */
const PARAM_VALUES: Record<string, string> = {
  component: "badinput-component",
  version: "9.9.9",
  filename: "badinput.bin",
  sha256: "b".repeat(64),
  customer: "badinput-customer",
  product: "badinput-product",
};

/** Path parameter values as sent on the wire (already percent-encoded where needed). */
const BAD_PARAMS: Array<{ label: string; raw: string }> = [
  { label: "dot-dot", raw: "%2e%2e" },
  { label: "encoded slash traversal", raw: "..%2f..%2fetc%2fpasswd" },
  { label: "backslash traversal", raw: "..%5c..%5cwindows" },
  { label: "NUL", raw: "a%00b" },
  { label: "CRLF", raw: "a%0d%0aX-Injected:%201" },
  { label: "overlong", raw: "a".repeat(4000) },
  { label: "RTL override", raw: "txt.%E2%80%AEexe" },
  { label: "Cyrillic look-alike", raw: "%D0%BErders" },
  { label: "NFD accent", raw: "cafe%CC%81" },
  { label: "invalid UTF-8", raw: "%ff%fe" },
  { label: "overlong UTF-8 slash", raw: "%c0%af" },
  { label: "malformed escape", raw: "%" },
  { label: "space", raw: "a%20b" },
  { label: "upper case", raw: "UPPER" },
];

const QUERY_VALUES: Array<{ label: string; raw: string }> = [
  { label: "empty", raw: "" },
  { label: "NUL", raw: "a%00b" },
  { label: "overlong", raw: "x".repeat(5000) },
  { label: "negative", raw: "-1" },
  { label: "huge", raw: "99999999999999999999999999" },
  { label: "fraction", raw: "1.5" },
  { label: "word", raw: "abc" },
  { label: "invalid UTF-8", raw: "%ff" },
];

let server: TestServer;
let siteToken: string;

before(async () => {
  server = await startTestServer();
  const customer = await server.call("POST", "/api/v1/customers", { token: server.admin.token, body: { name: "badinput-co" } });
  assert.equal(customer.status, 201, customer.text);
  const site = await server.call("POST", "/api/v1/customers/badinput-co/sites", {
    token: server.admin.token,
    body: { name: "plant", environment: "prod", platform: "vm", connectivity: "agent" },
  });
  assert.equal(site.status, 201, site.text);
  siteToken = site.body.agentToken;
});
after(async () => {
  keepAlive.destroy();
  await server?.close();
});

interface Case {
  label: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** false: the schema accepts this input, so only "no 5xx" (and, for reads, "no change") is required. */
  mustRefuse: boolean;
}

const routeKey = (route: RegisteredRoute) => `${route.method.toUpperCase()} ${route.path}`;
const isRead = (route: RegisteredRoute) => route.method === "get" || route.method === "head";

function concretePath(pattern: string, override?: { name: string; raw: string }): string {
  return (
    "/api/v1" +
    pattern.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => (override?.name === name ? override.raw : (PARAM_VALUES[name] ?? placeholderIds.get(name)!)))
  );
}
const placeholderIds = new Map<string, string>([
  ["id", randomUUID()],
  ["artifactId", randomUUID()],
]);

function tokenFor(route: RegisteredRoute): string {
  return route.access === "site" ? siteToken : server.admin.token;
}

/** Headers and a body that pass everything but what a case breaks. */
function neutralRequest(route: RegisteredRoute): { headers: Record<string, string>; body?: string } {
  if (isRead(route) || route.method === "delete") return { headers: {} };
  if (routeKey(route) === "PUT /artifacts/:component/:version/:filename") return { headers: { "content-type": "application/octet-stream" }, body: "x" };
  return { headers: { "content-type": "application/json" }, body: "{}" };
}

/** One kept-alive connection: thousands of requests need not each open a socket. */
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 1 });

async function send(route: RegisteredRoute, c: Case): Promise<RawResponse> {
  return rawRequest(server.url, c.method, c.path, {
    headers: { authorization: `Bearer ${tokenFor(route)}`, ...c.headers },
    body: c.body,
    timeoutMs: 30_000,
    agent: keepAlive,
  });
}

/**
 * Runs a route's cases; returns every problem found, naming the case. State is compared
 * around each run of cases that must change nothing (cases the schema accepts may change
 * things on a writing route, so the baseline is taken again after them).
 */
async function runCases(route: RegisteredRoute, cases: Case[]): Promise<string[]> {
  const problems: string[] = [];
  let baseline = await snapshotState(server);
  let since: string[] = [];
  const compare = async () => {
    if (!since.length) return;
    const changes = stateChanges(baseline, await snapshotState(server));
    if (changes.length) problems.push(`${routeKey(route)}: changed state: ${changes.join("; ")}; by one of: ${since.slice(0, 10).join(" | ")}`);
    since = [];
  };
  for (const c of cases) {
    const legitimateWrite = !c.mustRefuse && !isRead(route);
    if (legitimateWrite) await compare();
    let response: RawResponse;
    try {
      response = await send(route, c);
    } catch (error) {
      problems.push(`${routeKey(route)} [${c.label}]: ${(error as Error).message}`);
      continue;
    }
    if (c.mustRefuse) {
      for (const problem of refusalProblems(response, c.method)) problems.push(`${routeKey(route)} [${c.label}]: ${problem}`);
    } else if (response.status >= 500) {
      problems.push(`${routeKey(route)} [${c.label}]: status ${response.status} ${response.text.slice(0, 200)}`);
    }
    if (legitimateWrite) baseline = await snapshotState(server);
    else since.push(c.label);
  }
  await compare();
  return problems;
}

/** Whether the route's params schema accepts `raw` (as the router would decode it) for `name`. */
function paramAccepted(route: RegisteredRoute, name: string, raw: string): boolean {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return false;
  }
  if (/\u0000/.test(decoded)) return false;
  const params: Record<string, string> = {};
  for (const m of route.path.matchAll(/:([A-Za-z0-9_]+)/g)) params[m[1]!] = m[1] === name ? decoded : (PARAM_VALUES[m[1]!] ?? placeholderIds.get(m[1]!)!);
  return route.params ? accepts(route.params as z.ZodType, params) : true;
}

describe("bad input on every route", () => {
  test("path parameters: traversal, NUL, CRLF, unicode tricks, invalid UTF-8, absurd lengths → 4xx (or a 404 where the value is a valid name), nothing changed", async () => {
    const problems: string[] = [];
    for (const route of server.routes) {
      const names = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
      if (!names.length) continue;
      const neutral = neutralRequest(route);
      const cases: Case[] = names.flatMap((name) =>
        BAD_PARAMS.map((bad) => ({
          label: `:${name} ${bad.label}`,
          method: route.method.toUpperCase(),
          path: concretePath(route.path, { name, raw: bad.raw }),
          headers: neutral.headers,
          body: neutral.body,
          mustRefuse: !paramAccepted(route, name, bad.raw),
        })),
      );
      problems.push(...(await runCases(route, cases)));
    }
    assert.deepEqual(problems, []);
  });

  test("query strings: unknown keys, repeated keys, wrong types, out-of-range numbers → 4xx; nothing → 5xx", async () => {
    const problems: string[] = [];
    for (const route of server.routes) {
      const neutral = neutralRequest(route);
      const schema = route.query as z.ZodType | undefined;
      const base = (schema ? sample(schema) : {}) as Record<string, unknown> | undefined;
      if (schema && base === undefined) {
        problems.push(`${routeKey(route)}: the test cannot make a valid query for this schema; teach test/support/zod-samples.ts`);
        continue;
      }
      const baseQuery = Object.fromEntries(Object.entries(base ?? {}).map(([k, v]) => [k, String(v)]));
      const pathOf = (query: Record<string, string | string[]>, extra = "") => {
        const qs = querystring.stringify(query);
        return `${concretePath(route.path)}?${qs}${qs && extra ? "&" : ""}${extra}`;
      };
      const caseFor = (label: string, rawQuery: string): Case => {
        const parsed = querystring.parse(rawQuery);
        const valid = schema ? accepts(schema, parsed) : Object.keys(parsed).length === 0;
        const hasNul = Object.values(parsed).some((v) => String(v).includes("\u0000"));
        return {
          label,
          method: route.method.toUpperCase(),
          path: `${concretePath(route.path)}?${rawQuery}`,
          headers: neutral.headers,
          body: neutral.body,
          mustRefuse: !valid || hasNul,
        };
      };
      const baseRaw = querystring.stringify(baseQuery);
      const join = (...parts: string[]) => parts.filter(Boolean).join("&");
      const cases: Case[] = [
        caseFor("unknown key", join(baseRaw, "zzz_unknown=1")),
        caseFor("__proto__ key", join(baseRaw, "__proto__=1")),
        caseFor("constructor key", join(baseRaw, "constructor=x")),
        caseFor("bracket key", join(baseRaw, "a[b]=1")),
      ];
      for (const key of Object.keys((schema as any)?._zod?.def?.shape ?? {})) {
        const others = querystring.stringify(Object.fromEntries(Object.entries(baseQuery).filter(([k]) => k !== key)));
        for (const value of QUERY_VALUES) cases.push(caseFor(`${key}=${value.label}`, join(others, `${key}=${value.raw}`)));
        cases.push(caseFor(`${key} repeated`, join(others, `${key}=1&${key}=2`)));
        cases.push(caseFor(`${key}[]`, join(others, `${key}[]=1`)));
      }
      void pathOf;
      problems.push(...(await runCases(route, cases)));
    }
    assert.deepEqual(problems, []);
  });

  test("Authorization headers: malformed, NUL in Basic credentials, absurd tokens → 401 on every non-public route, nothing changed", async () => {
    const basic = (text: string) => `Basic ${Buffer.from(text, "utf8").toString("base64")}`;
    const headers = [
      basic("ad\u0000min:password"),
      basic("admin:pass\u0000word"),
      basic("ad\ud800min:x"),
      basic(`${"a".repeat(4000)}:${"b".repeat(4000)}`),
      basic("no-colon"),
      "Basic !!!not-base64!!!",
      `Bearer ${"x".repeat(8000)}`,
      "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGVzIjpbImFkbWluIl19.",
      "Bearer",
      "Negotiate abc",
    ];
    const problems: string[] = [];
    const before = await snapshotState(server);
    for (const route of server.routes) {
      if (route.access === "public") continue;
      const neutral = neutralRequest(route);
      for (const authorization of headers) {
        const response = await rawRequest(server.url, route.method.toUpperCase(), concretePath(route.path), { headers: { ...neutral.headers, authorization }, body: neutral.body });
        if (response.status !== 401) problems.push(`${routeKey(route)} [${authorization.slice(0, 30)}]: status ${response.status} ${response.text.slice(0, 150)}`);
        else for (const problem of refusalProblems(response, route.method)) problems.push(`${routeKey(route)} [${authorization.slice(0, 30)}]: ${problem}`);
      }
    }
    assert.deepEqual(problems, []);
    assert.deepEqual(stateChanges(before, await snapshotState(server)), []);
  });

  test("JSON bodies: malformed, oversized, wrong encodings, wrong top-level types → 4xx, nothing changed", async () => {
    const problems: string[] = [];
    const bodies: Array<{ label: string; body: string | Buffer; headers?: Record<string, string> }> = [
      { label: "truncated object", body: '{"a":' },
      { label: "unterminated string", body: '{"a":"abc' },
      { label: "trailing comma", body: '{"a":1,}' },
      { label: "single quotes", body: "{'a':1}" },
      { label: "bare word", body: "hello" },
      { label: "NaN", body: '{"a":NaN}' },
      { label: "two documents", body: '{"a":1}{"b":2}' },
      { label: "raw NUL", body: Buffer.from([0x7b, 0x00, 0x7d]) },
      { label: "invalid UTF-8", body: Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]) },
      { label: "top-level string", body: '"text"' },
      { label: "top-level number", body: "12345" },
      { label: "top-level null", body: "null" },
      { label: "top-level array", body: "[]" },
      { label: "array of objects", body: "[{}]" },
      { label: "deeply nested arrays", body: "[".repeat(100_000) + "]".repeat(100_000) },
      { label: "deeply nested objects", body: '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000) },
      { label: "2 MB body", body: JSON.stringify({ big: "x".repeat(2 * 1024 * 1024) }) },
      { label: "UTF-16 body with an unknown field", body: Buffer.from('{"zzz_unknown":1}', "utf16le"), headers: { "content-type": "application/json; charset=utf-16" } },
      { label: "bogus charset", body: "{}", headers: { "content-type": "application/json; charset=klingon" } },
      { label: "garbage gzip", body: Buffer.from("definitely not gzip"), headers: { "content-encoding": "gzip" } },
      { label: "unknown content-encoding", body: "{}", headers: { "content-encoding": "x-klingon" } },
      { label: "gzip bomb (64 MB of zeros)", body: gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20)), headers: { "content-encoding": "gzip" } },
    ];
    for (const route of server.routes) {
      if (isRead(route) || route.method === "delete" || route.body === "stream") continue;
      const cases: Case[] = bodies.map((b) => ({
        label: b.label,
        method: route.method.toUpperCase(),
        path: concretePath(route.path),
        headers: { "content-type": "application/json", ...b.headers },
        body: b.body,
        mustRefuse: true,
      }));
      problems.push(...(await runCases(route, cases)));
    }
    // JSON.parse must never have let "__proto__" reach Object.prototype.
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(problems, []);
  });

  test("JSON bodies: each declared field missing, of the wrong type, NUL or nasty strings, unknown fields → 4xx, nothing changed", async () => {
    const problems: string[] = [];
    for (const route of server.routes) {
      if (isRead(route) || route.method === "delete" || route.body === "stream") continue;
      const schema = route.body as z.ZodType | undefined;
      const base = schema ? sample(schema) : {};
      if (base === undefined) {
        problems.push(`${routeKey(route)}: the test cannot make a valid body for this schema; teach test/support/zod-samples.ts`);
        continue;
      }
      const validate = (value: unknown) => (schema ? accepts(schema, value) : value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length === 0);
      const cases: Case[] = [];
      const add = (label: string, value: unknown, text = JSON.stringify(value)) => {
        const hasNul = text.includes("\\u0000") || /\\ud[89ab]/i.test(text);
        if (validate(value) && !hasNul) return; // a valid body would legitimately change things
        cases.push({ label, method: route.method.toUpperCase(), path: concretePath(route.path), headers: { "content-type": "application/json" }, body: text, mustRefuse: true });
      };
      const baseText = JSON.stringify(base);
      add("unknown field", { ...(base as object), zzz_unknown: 1 });
      add("__proto__ field", JSON.parse(`{"__proto__":{"polluted":1},${baseText.slice(1)}`.replace(/,}$/, "}")), `{"__proto__":{"polluted":1},${baseText.slice(1)}`.replace(/,}$/, "}"));
      add("constructor field", { ...(base as object), constructor: { prototype: { polluted: 1 } } });
      for (const field of schema ? fieldsOf(schema, base) : []) {
        const where = field.path.join(".");
        add(`${where} missing`, withField(base, field.path, undefined));
        for (const wrong of WRONG_TYPES) add(`${where} = ${JSON.stringify(wrong)}`, withField(base, field.path, wrong));
        for (const nasty of NASTY_STRINGS) add(`${where} ${nasty.label}`, withField(base, field.path, nasty.value));
        add(`${where} NUL key`, withField(base, field.path, { "a\u0000b": 1 }));
        add(`${where} unknown nested field`, withField(base, [...field.path, "zzz_unknown"], 1));
      }
      problems.push(...(await runCases(route, cases)));
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(problems, []);
  });
});
