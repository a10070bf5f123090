/**
 * HTTP exactly as written: the path is sent byte for byte (fetch would normalise `%2e%2e`
 * and reject some characters), with a deadline so that a hanging request fails the test
 * instead of stalling it. Plus the check every refused request must pass (SPEC §4).
 */
import http from "node:http";
import assert from "node:assert/strict";

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  body: any;
  ms: number;
}

export interface RawRequestOptions {
  headers?: Record<string, string | number>;
  body?: string | Buffer | Uint8Array;
  timeoutMs?: number;
  /** Default: a new connection per request. */
  agent?: http.Agent;
}

export function rawRequest(baseUrl: string, method: string, rawPath: string, options: RawRequestOptions = {}): Promise<RawResponse> {
  const url = new URL(baseUrl);
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...options.headers };
    if (options.body !== undefined && headers["content-length"] === undefined && headers["transfer-encoding"] === undefined) {
      headers["content-length"] = Buffer.byteLength(options.body);
    }
    const req = http.request({ host: url.hostname, port: url.port, method, path: rawPath, headers, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("error", reject);
      res.on("end", () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body, ms: Date.now() - started });
      });
    });
    const timer = setTimeout(() => {
      req.destroy(new Error(`${method} ${rawPath.slice(0, 200)}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    req.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (options.body !== undefined) req.write(options.body);
    req.end();
  });
}

const STACK_LINE = /\n\s+at \S.*[:(]\d+:\d+|\.ts:\d+|node_modules|\/work\/|file:\/\//;

/** Problems with a refused response: not a 4xx, not the SPEC §4 error shape, or a stack trace in it. */
export function refusalProblems(response: RawResponse, method: string): string[] {
  const problems: string[] = [];
  if (response.status < 400 || response.status >= 500) problems.push(`status ${response.status} (want 4xx)`);
  if (STACK_LINE.test(response.text)) problems.push(`stack trace or source path in the body: ${response.text.slice(0, 300)}`);
  if (method.toUpperCase() === "HEAD") return problems;
  const body = response.body as { error?: { code?: unknown; message?: unknown } } | undefined;
  const shapeOk =
    body !== null &&
    typeof body === "object" &&
    Object.keys(body).length === 1 &&
    typeof body.error === "object" &&
    body.error !== null &&
    typeof body.error.code === "string" &&
    /^[a-z][a-z0-9_]*$/.test(body.error.code) &&
    typeof body.error.message === "string" &&
    Object.keys(body.error).every((key) => ["code", "message", "details"].includes(key));
  if (!shapeOk) problems.push(`not the SPEC §4 error shape: ${response.text.slice(0, 300)}`);
  if (!String(response.headers["content-type"] ?? "").startsWith("application/json")) problems.push(`content-type ${response.headers["content-type"]}`);
  return problems;
}

export function assertRefused(response: RawResponse, method: string, label: string, code?: string): void {
  const problems = refusalProblems(response, method);
  assert.deepEqual(problems, [], `${label}: ${problems.join("; ")}`);
  if (code) assert.equal(response.body?.error?.code, code, `${label}: ${response.text.slice(0, 300)}`);
}
