/**
 * The "hello" service of server/deployments/deployments.fixtures.ts with a gate in its
 * pipeline, for crash tests that must kill a process while a deployment is in a known
 * place: the step "wait at the gate" touches `<GATE_DIR>/at-gate-<version>` and waits
 * until the test creates `<GATE_DIR>/go-<version>` (or deletes GATE_DIR, so nothing is
 * left waiting after a failed test); the step after it appends the version
 * to `<INSTALL_ROOT>/hello/applied.log`, so a test can count how many applies of a
 * version ran to the end (exactly one, however often processes were killed).
 * Releases are published with publishHello (same artifact and release names).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dump } from "js-yaml";
import { createSite, publishHello } from "../../server/deployments/deployments.fixtures.js";
import type { BundleWorld } from "./bundles.js";
import type { TestServer, TestUser } from "./server.js";

const ROOT = "${{ vars.INSTALL_ROOT }}/hello";
const GATE = "${{ vars.GATE_DIR }}";
const VERSION = "${{ component.version }}";

/** Writes the catalog folder; pass it as FERRY_CATALOG_DIR. */
export function writeGatedHelloCatalog(dir: string): string {
  const catalog = path.join(dir, "catalog");
  mkdirSync(path.join(catalog, "hello", "config"), { recursive: true });
  mkdirSync(path.join(dir, "pipelines"), { recursive: true });
  const steps = [
    { name: "unpack hello", type: "extract", artifact: "tarball", to: `${ROOT}/releases/${VERSION}`, strip: 1 },
    { name: "render hello.conf", type: "template", source: "config/hello.conf.tpl", to: `${ROOT}/hello.conf`, mode: "0640" },
    { name: "wait at the gate", type: "run", command: `touch "${GATE}/at-gate-${VERSION}"; while [ ! -f "${GATE}/go-${VERSION}" ] && [ -d "${GATE}" ]; do sleep 0.1; done`, timeout: 300 },
    { name: "record the apply", type: "run", command: `echo "${VERSION}" >> "${ROOT}/applied.log"`, timeout: 30 },
  ];
  const service = {
    apiVersion: "ferry/v1",
    name: "hello",
    description: "A tiny service for deployment crash tests",
    platforms: ["vm"],
    artifacts: [{ name: "tarball", kind: "binary", pattern: "hello-*.tar.gz" }],
    config: [{ source: "config/hello.conf.tpl", target: `${ROOT}/hello.conf`, mode: "0640" }],
    variables: { INSTALL_ROOT: { required: true }, GATE_DIR: { required: true }, GREETING: { default: "hello" }, HELLO_TOKEN: { secret: true, required: true } },
    pipelines: { install: steps, upgrade: steps },
  };
  writeFileSync(path.join(catalog, "hello", "service.yml"), dump(service, { lineWidth: -1, noRefs: true }));
  writeFileSync(path.join(catalog, "hello", "config", "hello.conf.tpl"), "greeting=${{ vars.GREETING }}\ntoken=${{ vars.HELLO_TOKEN }}\n");
  return catalog;
}

export class Gate {
  constructor(
    readonly dir: string,
    private readonly installRoot: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }
  reached(version: string): boolean {
    return existsSync(path.join(this.dir, `at-gate-${version}`));
  }
  open(version: string): void {
    writeFileSync(path.join(this.dir, `go-${version}`), "");
  }
  /** Versions whose apply ran past the gate to the end, in order (one line per apply). */
  applied(): string[] {
    const file = path.join(this.installRoot, "hello", "applied.log");
    return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean) : [];
  }
}

/**
 * A scratch folder laid out for one gated-agent test file: the site's install root, the
 * agent's work directory, the server's signing key for the agent, and the gate.
 */
export function gatedWorkspace(prefix: string): { dir: string; installRoot: string; workdir: string; keyFile: string; gate: Gate } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  const installRoot = path.join(dir, "opt");
  return { dir, installRoot, workdir: path.join(dir, "work"), keyFile: path.join(dir, "signing-key.pem"), gate: new Gate(path.join(dir, "gate"), installRoot) };
}

/**
 * Publishes hello `versions`, creates an agent site for the gated service (customer acme)
 * and writes the server's signing key to `keyFile` for the agent. Returns the site's id and
 * agent token.
 */
export async function gatedAgentSite(
  server: TestServer,
  world: BundleWorld,
  operator: TestUser,
  options: { name: string; versions: string[]; installRoot: string; gate: Gate; helloToken: string; keyFile: string },
): Promise<{ siteId: string; agentToken: string }> {
  for (const version of options.versions) await publishHello(world, version);
  const site = await createSite(server, operator, "acme", {
    name: options.name,
    connectivity: "agent",
    variables: { INSTALL_ROOT: options.installRoot, GATE_DIR: options.gate.dir },
    secretVariables: { HELLO_TOKEN: options.helloToken },
  });
  writeFileSync(options.keyFile, (await server.call("GET", "/api/v1/signing-key")).text);
  return { siteId: site.id, agentToken: site.agentToken! };
}
