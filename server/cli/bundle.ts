/**
 * `ferry bundle build` (request a bundle, follow its progress, download it and check its
 * sha256) and `ferry bundle verify` (offline: the same checks the site agent runs).
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { readFile, rename, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { formatReport, verifyBundle } from "../../agent/verify.js";
import { CliError, describeError, request, requestOk, resolveTarget, type ServerTarget } from "./api-client.js";
import { ProgressBar, formatBytes } from "./progress.js";

const BUILD_USAGE = "usage: ferry bundle build --site SITE_ID --release product@version [--from VERSION|installed] [--components a,b] [--format tar|tar.gz] [--max-part-size BYTES] [-o FILE]";
const VERIFY_USAGE = "usage: ferry bundle verify FILE|DIR [--key key.pem | --server URL] [--json]";

export async function bundleCommand(sub: string | undefined, args: string[]): Promise<void> {
  if (sub === "build") return build(args);
  if (sub === "verify") return verify(args);
  throw new CliError(`${BUILD_USAGE}\n${VERIFY_USAGE}`);
}

async function build(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      site: { type: "string" },
      release: { type: "string" },
      from: { type: "string" },
      components: { type: "string" },
      format: { type: "string" },
      "max-part-size": { type: "string" },
      output: { type: "string", short: "o" },
    },
  });
  const release = /^([^@]+)@(.+)$/.exec(values.release ?? "");
  if (!values.site || !release) throw new CliError(BUILD_USAGE);
  const target = resolveTarget(values);
  const body = {
    site: values.site,
    release: { product: release[1], version: release[2] },
    ...(values.from ? { from: values.from } : {}),
    ...(values.components ? { components: values.components.split(",").map((c) => c.trim()).filter(Boolean) } : {}),
    ...(values.format ? { format: values.format } : {}),
    ...(values["max-part-size"] ? { maxPartSize: Number(values["max-part-size"]) } : {}),
  };
  const requested = await request(target, "POST", "/api/v1/bundles", { json: body });
  if (requested.status !== 200 && requested.status !== 202) throw new CliError(describeUnapproved(requested) ?? describeError(requested));
  const id = requested.body.id as string;
  if (requested.body.addedDependencies?.length) console.error(`added dependencies: ${requested.body.addedDependencies.join(", ")}`);
  console.error(`bundle ${id}${requested.body.reused ? " (reusing an identical request's bundle)" : ""}`);

  let bar: ProgressBar | null = null;
  let bundle: any;
  for (;;) {
    bundle = await requestOk(target, "GET", `/api/v1/bundles/${id}`);
    if (bundle.progress.bytesTotal && !bar) bar = new ProgressBar("building", bundle.progress.bytesTotal);
    bar?.update(bundle.progress.bytesDone);
    if (bundle.status === "ready") break;
    if (bundle.status === "failed" || bundle.status === "expired") throw new CliError(`bundle ${id} ${bundle.status}: ${bundle.error ?? ""}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  bar?.finish();
  const output = values.output ?? `${bundle.manifest?.folder ?? `bundle-${id}`}.${bundle.format}`;
  await download(target, `/api/v1/bundles/${id}/download`, output, bundle.sha256, bundle.size);
  console.log(`${output}  sha256:${bundle.sha256}  ${formatBytes(bundle.size)}`);
}

function describeUnapproved(result: { status: number; body: any }): string | null {
  const error = result.body?.error;
  if (error?.code !== "unapproved_sql") return null;
  const scripts = (error.details?.scripts ?? []) as Array<{ component: string; version: string; filename: string; status: string }>;
  return `unapproved_sql: these SQL scripts need DBA approval first:\n${scripts.map((s) => `  ${s.component}/${s.version}/${s.filename} (${s.status})`).join("\n")}`;
}

/** Streams a download to FILE.partial, checks its sha256, then renames it into place. */
function download(target: ServerTarget, urlPath: string, file: string, sha256: string, size: number): Promise<void> {
  const url = new URL(target.server + urlPath);
  const client = url.protocol === "https:" ? https : http;
  const partial = `${file}.partial`;
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers: { authorization: `Bearer ${target.token}` } }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new CliError(`download failed: HTTP ${res.statusCode}`));
      }
      const hash = createHash("sha256");
      const bar = new ProgressBar("download", size);
      let done = 0;
      const meter = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          done += chunk.length;
          bar.update(done);
          callback(null, chunk);
        },
      });
      pipeline(res, meter, createWriteStream(partial))
        .then(async () => {
          bar.finish();
          const actual = hash.digest("hex");
          if (actual !== sha256) throw new CliError(`download corrupt: sha256 ${actual}, expected ${sha256}`);
          await rename(partial, file);
        })
        .then(resolve, async (error: unknown) => {
          await rm(partial, { force: true });
          reject(error);
        });
    });
    req.on("error", (error) => reject(new CliError(`cannot reach ${target.server}: ${error.message}`)));
  });
}

async function verify(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { key: { type: "string" }, server: { type: "string" }, json: { type: "boolean" } },
  });
  const [file] = positionals;
  if (!file) throw new CliError(VERIFY_USAGE);
  let publicKeyPem: string | undefined;
  if (values.key) publicKeyPem = await readFile(values.key, "utf8");
  else if (values.server) {
    const response = await fetch(`${values.server.replace(/\/+$/, "")}/api/v1/signing-key`).catch((error: Error) => {
      throw new CliError(`cannot fetch the signing key from ${values.server}: ${error.message}`);
    });
    if (!response.ok) throw new CliError(`cannot fetch the signing key from ${values.server}: HTTP ${response.status}`);
    publicKeyPem = await response.text();
  }
  const report = await verifyBundle(file, { publicKeyPem });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  if (!report.ok) process.exitCode = 1;
}
