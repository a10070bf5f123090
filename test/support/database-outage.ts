/**
 * Shared pieces of the tests that take Ferry's PostgreSQL away under load
 * (test/e2e/postgres-restart.test.ts, test/e2e/faults-postgres.test.ts): a `ferry server`
 * holding the artifact releases under load reference, timed requests that always end in an
 * outcome, and the server's log for a failed one.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Cleanups } from "./cluster.js";
import { startFerryProcess, type FerryProcess } from "./process.js";

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** How one request ended: status -1 when no answer came within its time limit. */
export interface Outcome {
  what: string;
  status: number;
  text: string;
  ms: number;
  at: number;
}

/** `init` sent to Ferry, with `token` as bearer when given; never throws, never waits longer than `timeoutMs`. */
export async function timedRequest(ferry: FerryProcess, token: string | undefined, what: string, url: string, init: RequestInit, timeoutMs: number): Promise<Outcome> {
  const started = Date.now();
  const headers = { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers as Record<string, string>) };
  try {
    const response = await fetch(ferry.url + url, { ...init, headers, signal: AbortSignal.timeout(timeoutMs) });
    return { what, status: response.status, text: await response.text(), ms: Date.now() - started, at: started };
  } catch (error) {
    return { what, status: -1, text: `no answer after ${Date.now() - started} ms: ${(error as Error).message}`, ms: Date.now() - started, at: started };
  }
}

/**
 * A `ferry server` on `databaseUrl` with a fresh data directory, logged in as admin, holding
 * the component (redis 7.2.5) that releases created under load reference. Stopped and
 * removed by `cleanups`.
 */
export async function startFerryWithBaseComponent(
  cleanups: Cleanups,
  options: { databaseUrl: string; dataDirPrefix: string; loginRateLimit: string },
): Promise<{ ferry: FerryProcess; token: string; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), options.dataDirPrefix));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const ferry = await startFerryProcess({ DATABASE_URL: options.databaseUrl, FERRY_DATA_DIR: dataDir, FERRY_LOGIN_RATE_LIMIT: options.loginRateLimit });
  cleanups.push(() => ferry.stop());
  const token = await ferry.login();
  const base = Buffer.from("base component");
  const stored = await timedRequest(ferry, token, "base upload", "/api/v1/artifacts/redis/7.2.5/redis-7.2.5.tar.gz", {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "x-artifact-kind": "binary", "x-checksum-sha256": sha256(base) },
    body: new Uint8Array(base),
  }, 20_000);
  assert.equal(stored.status, 201, stored.text);
  return { ferry, token, dataDir };
}

/** The server's log lines for the request id a 500 names, so a failure shows its cause. */
export function serverLogFor(ferry: FerryProcess, text: string): string {
  const id = /request id ([0-9a-f-]{36})/.exec(text)?.[1];
  return id ? ferry.output().split("\n").filter((line) => line.includes(id)).join("\n").slice(0, 4000) : "";
}
