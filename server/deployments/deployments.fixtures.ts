/**
 * Test setup for deployments, the agent API and SSH: a catalog holding one tiny real
 * service ("hello": a tarball unpacked under INSTALL_ROOT, a config rendered from site
 * variables, a command whose output includes a NUL byte, as binary output can), and
 * helpers that publish releases of it through the API as CI and a delivery lead would.
 * Used by server/deployments tests and test/e2e/ssh-* tests.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dump } from "js-yaml";
import { applyBundle } from "../../agent/apply.js";
import { folderOf, tarGz } from "../../test/support/bundle-fixture.js";
import { bundleWorld, type BundleWorld } from "../../test/support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";

const ROOT = "${{ vars.INSTALL_ROOT }}/hello";

/** Writes the catalog folder; pass it as FERRY_CATALOG_DIR. */
export function writeHelloCatalog(dir: string, options: { failingVersion?: string } = {}): string {
  const catalog = path.join(dir, "catalog");
  mkdirSync(path.join(catalog, "hello", "config"), { recursive: true });
  mkdirSync(path.join(dir, "pipelines"), { recursive: true });
  const steps = [
    { name: "unpack hello", type: "extract", artifact: "tarball", to: `${ROOT}/releases/\${{ component.version }}`, strip: 1 },
    { name: "render hello.conf", type: "template", source: "config/hello.conf.tpl", to: `${ROOT}/hello.conf`, mode: "0640" },
    { name: "say hello", type: "run", command: `echo "$(cat '${ROOT}/releases/\${{ component.version }}/VERSION') installed"; echo "a warning" >&2; printf 'raw\\000bytes\\n'`, timeout: 30 },
  ];
  if (options.failingVersion) {
    steps.push({ name: "smoke test", type: "run", command: `if [ "\${{ component.version }}" = "${options.failingVersion}" ]; then echo 'smoke test failed' >&2; exit 3; fi`, timeout: 30 });
  }
  const service = {
    apiVersion: "ferry/v1",
    name: "hello",
    description: "A tiny service for deployment tests",
    platforms: ["vm"],
    artifacts: [{ name: "tarball", kind: "binary", pattern: "hello-*.tar.gz" }],
    config: [{ source: "config/hello.conf.tpl", target: `${ROOT}/hello.conf`, mode: "0640" }],
    variables: { INSTALL_ROOT: { required: true }, GREETING: { default: "hello" }, HELLO_TOKEN: { secret: true, required: true } },
    pipelines: { install: steps, upgrade: steps },
  };
  writeFileSync(path.join(catalog, "hello", "service.yml"), dump(service, { lineWidth: -1, noRefs: true }));
  writeFileSync(path.join(catalog, "hello", "config", "hello.conf.tpl"), "greeting=${{ vars.GREETING }}\ntoken=${{ vars.HELLO_TOKEN }}\n");
  return catalog;
}

export function helloTarball(version: string): Buffer {
  return tarGz(folderOf({ VERSION: `${version}\n`, "bin/hello.sh": `#!/bin/sh\necho hello ${version}\n` }), { prefix: `hello-${version}` });
}

/** Uploads hello <version> and seals release `hello-suite <version>` holding it. */
export async function publishHello(world: BundleWorld, version: string): Promise<void> {
  await world.upload("hello", version, `hello-${version}.tar.gz`, helloTarball(version), { "x-artifact-kind": "binary" });
  await world.release("hello-suite", version, [{ name: "hello", version }]);
}

export interface CreatedSite {
  id: string;
  agentToken?: string;
}

export async function createSite(
  server: TestServer,
  operator: TestUser,
  customer: string,
  body: { name: string; connectivity: "agent" | "ssh" | "offline"; variables?: Record<string, string>; secretVariables?: Record<string, string>; ssh?: Record<string, unknown> },
): Promise<CreatedSite> {
  const made = await server.call("POST", "/api/v1/customers", { token: operator.token, body: { name: customer } });
  assert.ok(made.status === 201 || made.status === 409, made.text);
  const site = await server.call("POST", `/api/v1/customers/${customer}/sites`, {
    token: operator.token,
    body: { environment: "production", platform: "vm", variables: {}, secretVariables: {}, ...body },
  });
  assert.equal(site.status, 201, site.text);
  return { id: site.body.id, agentToken: site.body.agentToken };
}

/** Starts a deployment of release `hello-suite <version>` to `siteId`; returns its id. */
export async function deployHello(server: TestServer, token: string, siteId: string, version: string): Promise<string> {
  const created = await server.call("POST", "/api/v1/deployments", { token, body: { site: siteId, release: { product: "hello-suite", version } } });
  assert.equal(created.status, 202, created.text);
  return created.body.id as string;
}

/** Polls GET /deployments/:id until its status is one of `statuses`. */
export async function waitForStatus(server: TestServer, token: string, id: string, statuses: string[], timeoutMs = 60_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await server.call("GET", `/api/v1/deployments/${id}`, { token });
    assert.equal(got.status, 200, got.text);
    if (statuses.includes(got.body.status)) return got.body;
    if (Date.now() > deadline) assert.fail(`deployment ${id} is ${got.body.status} after ${timeoutMs} ms, expected ${statuses.join("|")}: ${got.text}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Reads a whole server-sent event stream (it must end) into events. */
/** The lines of a deployment's log, read to its end (the stream closes when the deployment has ended). */
export async function deploymentLogLines(server: { url: string }, token: string, id: string): Promise<string[]> {
  return (await readEvents(`${server.url}/api/v1/deployments/${id}/logs`, token)).map((e) => String(e.data?.line ?? ""));
}

export async function readEvents(url: string, token: string, headers: Record<string, string> = {}): Promise<Array<{ id?: string; event: string; data: any }>> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}`, ...headers } });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /text\/event-stream/);
  const text = await response.text();
  return text
    .split("\n\n")
    .filter((block) => block.trim() && !block.startsWith(":"))
    .map((block) => {
      const fields: Record<string, string> = {};
      for (const line of block.split("\n")) {
        const colon = line.indexOf(":");
        fields[line.slice(0, colon)] = line.slice(colon + 1).trimStart();
      }
      return { id: fields.id, event: fields.event ?? "message", data: JSON.parse(fields.data ?? "null") };
    });
}

/**
 * What an operator carries back from an offline site: hello-suite 1.0.0 built for `siteId`,
 * downloaded, applied by the real ferry-agent under `dir`, and the report it wrote.
 */
export async function appliedOfflineReport(server: TestServer, world: BundleWorld, siteId: string, dir: string): Promise<any> {
  const requested = await world.request({ site: siteId, release: { product: "hello-suite", version: "1.0.0" } });
  assert.equal(requested.status, 202, requested.text);
  await world.waitReady(requested.body.id);
  const bundleFile = path.join(dir, "bundle.tar");
  await world.download(requested.body.id, bundleFile);
  const keyFile = path.join(dir, "key.pem");
  writeFileSync(keyFile, await (await fetch(`${server.url}/api/v1/signing-key`)).text());
  const varsFile = path.join(dir, "vars.yml");
  writeFileSync(varsFile, dump({ vars: { INSTALL_ROOT: path.join(dir, "opt"), HELLO_TOKEN: "offline-secret" } }));
  const reportFile = path.join(dir, "report.json");
  const applied = await applyBundle({ bundle: bundleFile, workdir: path.join(dir, "work"), varsFile, keyFile, reportFile, out: () => undefined });
  assert.equal(applied.result, "succeeded", JSON.stringify(applied.error));
  return JSON.parse(readFileSync(reportFile, "utf8"));
}

export interface OfflineReportWorld {
  server: TestServer;
  world: BundleWorld;
  operator: TestUser;
  /** The offline site "bunker" of customer acme. */
  siteId: string;
  /** The report of hello-suite 1.0.0 applied there (appliedOfflineReport). */
  report: any;
  /** Stops the server and removes the working folder. */
  close(): Promise<void>;
}

/** A server with the hello catalog and hello-suite 1.0.0, an offline site, and a real report from it. */
export async function offlineReportWorld(): Promise<OfflineReportWorld> {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-reports-"));
  let server: TestServer | undefined;
  const close = async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir) } });
    const world = await bundleWorld(server);
    const operator = await server.user(["operator"]);
    await publishHello(world, "1.0.0");
    const siteId = (await createSite(server, operator, "acme", { name: "bunker", connectivity: "offline" })).id;
    const report = await appliedOfflineReport(server, world, siteId, dir);
    return { server, world, operator, siteId, report, close };
  } catch (error) {
    await close();
    throw error;
  }
}
