/**
 * `ferry push <files…> --component C --version V [--kind K]`: hashes each file, asks the
 * server to deploy it by checksum (no body sent when the server already has the blob),
 * and otherwise streams it with the checksum for the server to verify.
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CliError, describeError, request, type ServerTarget } from "./api-client.js";
import { ProgressBar } from "./progress.js";

export interface PushOptions {
  component: string;
  version: string;
  kind?: string;
  sql?: { database?: string; dialect?: string; type?: string };
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest("hex");
}

function headersFor(options: PushOptions, sha256: string): Record<string, string> {
  const headers: Record<string, string> = { "x-checksum-sha256": sha256 };
  if (options.kind) headers["x-artifact-kind"] = options.kind;
  if (options.sql?.database) headers["x-sql-database"] = options.sql.database;
  if (options.sql?.dialect) headers["x-sql-dialect"] = options.sql.dialect;
  if (options.sql?.type) headers["x-sql-type"] = options.sql.type;
  return headers;
}

export async function pushFile(target: ServerTarget, file: string, options: PushOptions): Promise<{ status: number; sha256: string; sentBody: boolean }> {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat?.isFile()) throw new CliError(`${file}: not a readable file`);
  const filename = path.basename(file);
  const urlPath = `/api/v1/artifacts/${encodeURIComponent(options.component)}/${encodeURIComponent(options.version)}/${encodeURIComponent(filename)}`;
  const sha256 = await sha256File(file);
  const headers = headersFor(options, sha256);

  const deploy = await request(target, "PUT", urlPath, { headers: { ...headers, "x-checksum-deploy": "true", "content-length": "0" } });
  if (deploy.status === 200 || deploy.status === 201) return { status: deploy.status, sha256, sentBody: false };
  if (deploy.status !== 404) throw new CliError(`${filename}: ${describeError(deploy)}`);

  const progress = new ProgressBar(filename, stat.size);
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      sent += chunk.length;
      progress.update(sent);
      callback(null, chunk);
    },
  });
  const stream = createReadStream(file, { highWaterMark: 1024 * 1024 }).pipe(counter);
  const upload = await request(target, "PUT", urlPath, {
    stream,
    headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(stat.size) },
  });
  progress.finish();
  if (upload.status !== 200 && upload.status !== 201) throw new CliError(`${filename}: ${describeError(upload)}`);
  return { status: upload.status, sha256, sentBody: true };
}
