/**
 * Starts a real Ferry server for API tests, on one of two profiles chosen by
 * FERRY_TEST_PROFILE:
 *  - `embedded` (default): PGlite in a fresh data directory, blobs in a directory;
 *  - `production`: a fresh database on the PostgreSQL at FERRY_TEST_DATABASE_URL
 *    (default postgresql://postgres@127.0.0.1:5432/test) and a fresh bucket on the S3
 *    server at FERRY_TEST_S3_ENDPOINT (or an in-process s3rver).
 * Nothing is mocked: tests talk HTTP to the real app.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { loadConfig } from "../../server/config.js";
import { createLogger, type Logger } from "../../server/logger.js";
import { startServer, type RunningServer } from "../../server/server.js";
import type { Role } from "../../server/auth/actor.js";
import { createBucket, startS3 } from "./s3.js";
import { createScratchDatabase } from "./postgres.js";

export const testProfile = (process.env.FERRY_TEST_PROFILE ?? "embedded") as "embedded" | "production";
const ADMIN_PASSWORD = "admin-password-for-tests";

export interface TestUser {
  username: string;
  password: string;
  token: string;
}

export interface TestServer extends RunningServer {
  dataDir: string;
  admin: TestUser;
  /** Creates a user holding `roles` and returns it with a session token. */
  user(roles: Role[], username?: string): Promise<TestUser>;
  /** JSON request helper: `api.call("POST", "/api/v1/…", { token, body })`. */
  call(method: string, urlPath: string, options?: { token?: string; body?: unknown; headers?: Record<string, string> }): Promise<ApiResponse>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  body: any;
  text: string;
}

/** `logger`: to read what the server logs (default: createLogger at LOG_LEVEL, silent unless FERRY_TEST_LOG_LEVEL). */
export async function startTestServer(options: { env?: Record<string, string>; logger?: Logger } = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-test-"));
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(dataDir, { recursive: true, force: true })];
  const env: Record<string, string> = {
    PORT: "0",
    HOST: "127.0.0.1",
    FERRY_DATA_DIR: dataDir,
    FERRY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    LOG_LEVEL: process.env.FERRY_TEST_LOG_LEVEL ?? "silent",
    FERRY_LOGIN_RATE_LIMIT: "1000",
  };
  if (testProfile === "production") {
    const database = await createScratchDatabase("ferry_t");
    cleanups.push(database.drop);
    const s3 = await startS3();
    cleanups.push(s3.close);
    const bucket = `ferry-${randomBytes(4).toString("hex")}`;
    await createBucket(s3.endpoint, bucket);
    Object.assign(env, {
      DATABASE_URL: database.url,
      FERRY_STORAGE: "s3",
      S3_ENDPOINT: s3.endpoint,
      S3_BUCKET: bucket,
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
      S3_FORCE_PATH_STYLE: "true",
    });
  }
  Object.assign(env, options.env);
  const config = loadConfig(env);
  const running = await startServer(config, { logger: options.logger ?? createLogger(config.LOG_LEVEL), announce: () => {} });

  const call: TestServer["call"] = async (method, urlPath, opts = {}) => {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
    }
    const response = await fetch(running.url + urlPath, { method, headers, body });
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
  };

  const login = async (username: string, password: string): Promise<string> => {
    const response = await call("POST", "/api/v1/auth/login", { body: { username, password } });
    if (response.status !== 200) throw new Error(`login ${username} failed: ${response.status} ${response.text}`);
    return response.body.token as string;
  };

  const admin: TestUser = { username: "admin", password: ADMIN_PASSWORD, token: await login("admin", ADMIN_PASSWORD) };
  let counter = 0;
  const user: TestServer["user"] = async (roles, username) => {
    const name = username ?? `${roles.join("-")}-${++counter}`;
    const password = `pw-${randomBytes(8).toString("hex")}`;
    const created = await call("POST", "/api/v1/users", { token: admin.token, body: { username: name, password, roles } });
    if (created.status !== 201) throw new Error(`creating user ${name} failed: ${created.status} ${created.text}`);
    return { username: name, password, token: await login(name, password) };
  };

  return {
    ...running,
    dataDir,
    admin,
    user,
    call,
    async close() {
      await running.close();
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
    },
  };
}
