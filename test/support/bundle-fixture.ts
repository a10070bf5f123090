/**
 * Builds Ferry bundles (ferry-bundle/v1, SPEC §5) as folders for agent tests, laid out and
 * signed exactly as server/bundles writes them: manifest.json (with every file's sha256,
 * size and role), manifest.json.sig (Ed25519, base64), SHA256SUMS, catalog/<component>/
 * (service.yml, pipelines.json, config templates), artifacts/ and sql/. Tests can then
 * tamper with any byte and see what the agent does.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { dump } from "js-yaml";

export interface SigningKeys {
  privateKey: KeyObject;
  publicKeyPem: string;
  publicKeyFile: string;
}

export function signingKeys(dir: string): SigningKeys {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  const publicKeyFile = path.join(dir, "signing-key.pem");
  writeFileSync(publicKeyFile, publicKeyPem);
  return { privateKey, publicKeyPem, publicKeyFile };
}

export interface FixtureArtifact {
  filename: string;
  kind: string;
  content: Buffer;
}

export interface FixtureComponent {
  name: string;
  version: string;
  fromVersion?: string | null;
  action: "install" | "upgrade" | "remove" | "unchanged";
  /** service.yml without `pipelines` (added as raw steps) and apiVersion/name (filled in). */
  service?: Record<string, unknown>;
  /** Expanded pipelines as the catalog loader writes pipelines.json (durations in seconds). */
  pipelines?: Record<string, unknown[]>;
  config?: Record<string, string>;
  artifacts?: FixtureArtifact[];
}

export interface FixtureScript {
  component: string;
  version: string;
  filename: string;
  type: "init" | "upgrade" | "undo" | "repeatable";
  orderVersion: string;
  content: string;
}

export interface FixtureRelease {
  product: string;
  version: string;
  digest: string;
}

export interface FixtureBundle {
  site?: { id: string; name: string; customer: string; platform?: string };
  release: FixtureRelease;
  base?: FixtureRelease | null;
  components: FixtureComponent[];
  sql?: Array<{ database: string; dialect: string; scripts: FixtureScript[] }>;
  /** For incremental bundles: what the site must hold already. */
  expects?: { release: FixtureRelease; components: Array<{ name: string; version: string }>; artifacts: Array<{ component: string; version: string; filename: string; kind: string; sha256: string; size: number }> } | null;
}

export const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
export const releaseRef = (product: string, version: string): FixtureRelease => ({ product, version, digest: sha256(`${product}@${version}`) });

/** Writes the bundle folder under `parent` and returns its path. */
export function buildBundleDir(parent: string, keys: SigningKeys, spec: FixtureBundle): string {
  const site = { id: "site-1", name: "plant", customer: "acme", environment: "production", platform: "vm", connectivity: "offline", ...spec.site };
  const folder = `${site.customer}-${site.name}_${spec.release.product}-${spec.release.version}${spec.base ? `_from-${spec.base.version}` : ""}`;
  const dir = path.join(parent, folder);
  rmSync(dir, { recursive: true, force: true });
  const files: Array<{ path: string; sha256: string; size: number; role: string }> = [];
  const put = (relative: string, content: Buffer | string, role: string) => {
    const full = path.join(dir, relative);
    mkdirSync(path.dirname(full), { recursive: true });
    writeFileSync(full, content);
    const bytes = Buffer.isBuffer(content) ? content : Buffer.from(content);
    files.push({ path: relative, sha256: sha256(bytes), size: bytes.length, role });
  };

  const artifacts = [];
  for (const component of spec.components) {
    for (const artifact of component.artifacts ?? []) {
      const relative = `artifacts/${component.name}/${component.version}/${artifact.filename}`;
      put(relative, artifact.content, "artifact");
      artifacts.push({ component: component.name, version: component.version, filename: artifact.filename, kind: artifact.kind, sha256: sha256(artifact.content), size: artifact.content.length, path: relative });
    }
    if (component.action === "unchanged" || component.action === "remove") continue;
    const service = { apiVersion: "ferry/v1", name: component.name, description: `${component.name} for tests`, platforms: ["vm"], ...component.service, pipelines: { install: [{ include: "see-pipelines-json" }] } };
    put(`catalog/${component.name}/service.yml`, dump(service), "catalog");
    put(`catalog/${component.name}/pipelines.json`, `${JSON.stringify(component.pipelines ?? {}, null, 2)}\n`, "catalog");
    for (const [source, text] of Object.entries(component.config ?? {})) put(`catalog/${component.name}/${source}`, text, "catalog");
  }
  const sql = (spec.sql ?? []).map((database) => ({
    database: database.database,
    dialect: database.dialect,
    scripts: database.scripts.map((script, index) => {
      const relative = `sql/${database.database}/${String(index + 1).padStart(4, "0")}_${script.filename}`;
      put(relative, script.content, "sql");
      const digest = sha256(script.content);
      return {
        id: `script-${script.filename}`,
        component: script.component,
        version: script.version,
        filename: script.filename,
        type: script.type,
        orderVersion: script.orderVersion,
        sha256: digest,
        size: Buffer.byteLength(script.content),
        release: spec.release.version,
        approvals: [{ reviewer: "dba", at: "2025-01-01T00:00:00.000Z", sha256: digest }],
        path: relative,
      };
    }),
  }));
  files.sort((a, b) => (a.path < b.path ? -1 : 1));
  const manifest = {
    format: "ferry-bundle/v1",
    id: sha256(`${site.id} ${spec.release.digest} ${spec.base?.digest ?? ""}`),
    folder,
    customer: { name: site.customer },
    site,
    release: { ...spec.release, sealedAt: "2025-01-01T00:00:00.000Z", required: false },
    base: spec.base ?? null,
    mode: spec.base ? "incremental" : "full",
    requestedComponents: null,
    addedDependencies: [],
    components: spec.components.map((c, order) => ({ name: c.name, version: c.version, fromVersion: c.fromVersion ?? null, action: c.action, order })),
    requiredReleases: [],
    files,
    artifacts,
    sql,
    images: [],
    expects: spec.expects ?? null,
  };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(path.join(dir, "manifest.json"), manifestBytes);
  writeFileSync(path.join(dir, "manifest.json.sig"), `${sign(null, manifestBytes, keys.privateKey).toString("base64")}\n`);
  const all = [...files.map((f) => f.path), "manifest.json", "manifest.json.sig"].sort();
  const sums = all.map((relative) => `${sha256(readFileSync(path.join(dir, relative)))}  ${relative}\n`).join("");
  writeFileSync(path.join(dir, "SHA256SUMS"), sums);
  return dir;
}

/** A tar.gz of a folder's content, made with GNU tar (as CI would). */
export function tarGz(sourceDir: string, options: { prefix?: string } = {}): Buffer {
  const out = path.join(mkdtempSync(path.join(tmpdir(), "ferry-tgz-")), "out.tar.gz");
  const prefix = options.prefix ?? "pkg";
  execFileSync("tar", ["-czf", out, "--sort=name", "--owner=0", "--group=0", `--transform=s,^\\.,${prefix},`, "-C", sourceDir, "."]);
  const bytes = readFileSync(out);
  rmSync(path.dirname(out), { recursive: true, force: true });
  return bytes;
}

/** A bundle folder packed as the server does: one top folder inside a tar (optionally gzipped). */
export function packBundle(bundleDir: string, file: string): string {
  const gzip = file.endsWith(".gz");
  execFileSync("tar", [gzip ? "-czf" : "-cf", file, "--sort=name", "--owner=0", "--group=0", "-C", path.dirname(bundleDir), path.basename(bundleDir)]);
  return file;
}

/** Writes files from a map into a fresh temp folder (for artifact content). */
export function folderOf(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-src-"));
  for (const [relative, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, relative)), { recursive: true });
    writeFileSync(path.join(dir, relative), content);
  }
  return dir;
}

export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (current: string) => {
    for (const name of readdirSync(current)) {
      const full = path.join(current, name);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(path.relative(dir, full));
    }
  };
  walk(dir);
  return out.sort();
}
