/** The CLI's connection to a Ferry server: --server/--token or FERRY_SERVER/FERRY_TOKEN. */
import http from "node:http";
import https from "node:https";
import type { Readable } from "node:stream";

export interface ServerTarget {
  server: string;
  token: string;
}

export class CliError extends Error {}

export function resolveTarget(values: { server?: string; token?: string }): ServerTarget {
  const server = values.server ?? process.env.FERRY_SERVER;
  const token = values.token ?? process.env.FERRY_TOKEN;
  if (!server) throw new CliError("no server: pass --server URL or set FERRY_SERVER");
  if (!token) throw new CliError("no credentials: pass --token or set FERRY_TOKEN");
  return { server: server.replace(/\/+$/, ""), token };
}

export interface ApiResult {
  status: number;
  body: any;
}

function describeError(result: ApiResult): string {
  const error = result.body?.error;
  return error ? `${error.code}: ${error.message}` : `HTTP ${result.status}`;
}

/** One HTTP request; `body` may be JSON or a stream (sent with the given headers). */
export function request(
  target: ServerTarget,
  method: string,
  path: string,
  options: { json?: unknown; stream?: Readable; headers?: Record<string, string> } = {},
): Promise<ApiResult> {
  const url = new URL(target.server + path);
  const client = url.protocol === "https:" ? https : http;
  const headers: Record<string, string> = { authorization: `Bearer ${target.token}`, accept: "application/json", ...options.headers };
  let payload: Buffer | undefined;
  if (options.json !== undefined) {
    payload = Buffer.from(JSON.stringify(options.json));
    headers["content-type"] = "application/json";
    headers["content-length"] = String(payload.length);
  }
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
      res.on("error", reject);
    });
    req.on("error", (error) => reject(new CliError(`cannot reach ${target.server}: ${error.message}`)));
    if (options.stream) {
      options.stream.on("error", (error) => req.destroy(error));
      options.stream.pipe(req);
    } else {
      req.end(payload);
    }
  });
}

/** Like request(), but a non-2xx status becomes a CliError with the server's message. */
export async function requestOk(target: ServerTarget, method: string, path: string, options?: Parameters<typeof request>[3]): Promise<any> {
  const result = await request(target, method, path, options);
  if (result.status < 200 || result.status >= 300) throw new CliError(describeError(result));
  return result.body;
}

export { describeError };
