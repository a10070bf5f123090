/**
 * The access log: one line per request at the level its outcome deserves, quiet paths
 * quiet unless they fail, nothing written below the logger's level, and req.log bound to
 * the request.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import express from "express";
import { createLogger } from "../logger.js";
import { requestLog } from "./request-log.js";

const lines: Array<Record<string, any>> = [];
const destination = { write: (line: string) => void lines.push(JSON.parse(line)) };
let base = "";
let close: () => void;

function app(level: string) {
  const logger = createLogger(level, destination);
  const server = express();
  server.use(requestLog(logger, { quietPaths: new Set(["/healthz"]) }));
  server.get("/healthz", (req, res) => void res.status(req.query.fail ? 503 : 200).end());
  server.get("/ok", (req, res) => {
    req.log.info({ step: "inside" }, "handler says");
    res.json({ ok: true });
  });
  server.get("/missing", (_req, res) => void res.status(404).end());
  server.get("/broken", (_req, res) => void res.status(500).end());
  server.get("/api/v1/downloads/:ticket", (_req, res) => void res.end());
  return server;
}

async function listen(level: string): Promise<void> {
  const server = app(level).listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => server.close();
}

before(() => listen("info"));
after(() => close());

test("one line per request, at info, warn (4xx) or error (5xx), with the request id", async () => {
  lines.length = 0;
  const ok = await fetch(`${base}/ok`, { headers: { "x-request-id": "build-7" } });
  assert.equal(ok.headers.get("x-request-id"), "build-7");
  await fetch(`${base}/missing`);
  await fetch(`${base}/broken`);
  const access = lines.filter((line) => line.msg === "request completed");
  assert.deepEqual(
    access.map((line) => [line.req.url, line.res.statusCode, line.level]),
    [
      ["/ok", 200, 30],
      ["/missing", 404, 40],
      ["/broken", 500, 50],
    ],
  );
  assert.equal(access[0]!.req.id, "build-7");
  assert.equal(typeof access[0]!.responseTime, "number");
  const inside = lines.find((line) => line.msg === "handler says");
  assert.deepEqual([inside?.req.id, inside?.req.url, inside?.step], ["build-7", "/ok", "inside"]);
});

test("quiet paths are logged only when they fail; tickets in paths are cut short", async () => {
  lines.length = 0;
  await fetch(`${base}/healthz`);
  await fetch(`${base}/healthz?fail=1`);
  const ticket = `${"a".repeat(40)}.${"b".repeat(43)}`;
  await fetch(`${base}/api/v1/downloads/${ticket}`);
  assert.deepEqual(
    lines.map((line) => line.res.statusCode),
    [503, 200],
  );
  assert.ok(!JSON.stringify(lines).includes(ticket.split(".")[1]!), JSON.stringify(lines));
});

test("below the logger's level nothing is written", async () => {
  close();
  await listen("warn");
  lines.length = 0;
  await fetch(`${base}/ok`);
  assert.deepEqual(lines, []);
  await fetch(`${base}/missing`);
  assert.equal(lines.length, 1);
});
