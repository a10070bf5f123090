/**
 * Shared pieces for multi-process and fault tests: a fresh PostgreSQL database, a fresh S3
 * bucket, a unique Redis prefix, the secrets every process of one installation must share,
 * and a TestServer-shaped client for a `ferry server` process (so test/support/bundles.ts
 * works against it).
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { ApiResponse, TestServer, TestUser } from "./server.js";
import { TEST_ADMIN_PASSWORD } from "./process.js";
import { createScratchDatabase, TEST_DATABASE_URL } from "./postgres.js";

export const BASE_DB = TEST_DATABASE_URL;
export const REDIS_URL = process.env.FERRY_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export type Cleanups = Array<() => Promise<unknown> | unknown>;

export async function freshDatabase(cleanups: Cleanups, prefix = "ferry_e2e"): Promise<{ url: string; name: string }> {
  const database = await createScratchDatabase(prefix);
  cleanups.push(database.drop);
  return { url: database.url, name: database.name };
}

/** A BullMQ prefix no other run uses; its keys are deleted at clean-up. */
export function freshQueuePrefix(cleanups: Cleanups): string {
  const prefix = `ferrye2e-${randomBytes(4).toString("hex")}`;
  cleanups.push(async () => {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return prefix;
}

/** The secrets every process of one installation shares (otherwise tokens and signatures differ per process). */
export function sharedSecrets(): Record<string, string> {
  const { privateKey } = generateKeyPairSync("ed25519");
  return {
    FERRY_JWT_SECRET: randomBytes(32).toString("hex"),
    FERRY_SECRET_KEY: randomBytes(32).toString("hex"),
    FERRY_SIGNING_KEY: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

export function s3Env(endpoint: string, bucket: string): Record<string, string> {
  return {
    FERRY_STORAGE: "s3",
    S3_ENDPOINT: endpoint,
    S3_BUCKET: bucket,
    S3_ACCESS_KEY_ID: "S3RVER",
    S3_SECRET_ACCESS_KEY: "S3RVER",
    S3_FORCE_PATH_STYLE: "true",
  };
}

export async function callApi(url: string, method: string, urlPath: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<ApiResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["content-type"] ??= "application/json";
    body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  }
  const response = await fetch(url + urlPath, { method, headers, body });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: response.status, headers: response.headers, body: parsed, text };
}

async function login(url: string, username: string, password: string): Promise<string> {
  const response = await callApi(url, "POST", "/api/v1/auth/login", { body: { username, password } });
  if (response.status !== 200) throw new Error(`login ${username} failed: ${response.status} ${response.text}`);
  return response.body.token as string;
}

/**
 * The parts of TestServer that API helpers use (url, admin, user, call), for a server
 * running as its own process. Only those members exist: close() belongs to the process.
 */
export async function remoteServer(url: string): Promise<TestServer> {
  const admin: TestUser = { username: "admin", password: TEST_ADMIN_PASSWORD, token: await login(url, "admin", TEST_ADMIN_PASSWORD) };
  const user: TestServer["user"] = async (roles, username) => {
    const name = username ?? `${roles.join("-")}-${randomBytes(3).toString("hex")}`;
    const password = `pw-${randomBytes(8).toString("hex")}`;
    const created = await callApi(url, "POST", "/api/v1/users", { token: admin.token, body: { username: name, password, roles } });
    if (created.status !== 201) throw new Error(`creating user ${name} failed: ${created.status} ${created.text}`);
    return { username: name, password, token: await login(url, name, password) };
  };
  const call: TestServer["call"] = (method, urlPath, opts) => callApi(url, method, urlPath, opts);
  return { url, admin, user, call } as unknown as TestServer;
}
