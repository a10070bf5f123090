/**
 * Which files a bundle holds and where (SPEC §5), from a plan: artifacts and SQL point at
 * blobs (streamed at build time, never read here); the small generated files (catalog
 * descriptors, pipelines, compose.yaml, install.sh, the agent) are held as bytes, since
 * their checksums go into the manifest before the tar is written.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { dump } from "js-yaml";
import type { CatalogService } from "../catalog/catalog.service.js";
import type { Db } from "../db/client.js";
import { ociLayoutEntries } from "../images/oci-layout.js";
import type { BlobStore } from "../storage/blob-store.js";
import { canonicalJson } from "../util/canonical-json.js";
import { buildAgentScript } from "./bundles.agent.js";
import { INSTALL_SH } from "./bundles.install-script.js";
import type { BundlePlan, PlannedArtifact } from "./bundles.plan.js";

export type FileRole = "artifact" | "image" | "sql" | "catalog" | "agent" | "installer" | "compose" | "manifest" | "signature" | "checksums";

/** An image artifact carried in the bundle's OCI layout (images/) rather than as a file. */
export interface BundleImage {
  component: string;
  version: string;
  filename: string;
  sha256: string;
  name: string;
  tag: string;
  manifestDigest: string;
}

export interface BundleLayout {
  files: BundleFile[];
  images: BundleImage[];
}

export interface LayoutDeps {
  catalog: CatalogService;
  db: Db;
  blobs: BlobStore;
}

export interface BundleFile {
  /** Relative to the bundle's top folder, always with forward slashes. */
  path: string;
  size: number;
  sha256: string;
  role: FileRole;
  mode: number;
  source: { blob: string } | { bytes: Buffer };
}

export const sha256Hex = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

export function bytesFile(filePath: string, bytes: Buffer, role: FileRole, mode = 0o644): BundleFile {
  return { path: filePath, size: bytes.length, sha256: sha256Hex(bytes), role, mode, source: { bytes } };
}

/** `<customer>-<site>_<product>-<version>[_from-<base>]`. */
export function bundleFolder(plan: BundlePlan): string {
  const name = `${plan.site.customer}-${plan.site.name}_${plan.release.product}-${plan.release.version}${plan.base ? `_from-${plan.base.version}` : ""}`;
  return name.replace(/[^A-Za-z0-9._+-]/g, "_");
}

/** `sql/<database>/<NNNN>_<filename>`: NNNN is the script's position in its database's run order. */
export function sqlPath(database: string, index: number, filename: string): string {
  return `sql/${database}/${String(index + 1).padStart(4, "0")}_${filename}`;
}

export async function layoutBundle(plan: BundlePlan, deps: LayoutDeps): Promise<BundleLayout> {
  const { catalog } = deps;
  const files: BundleFile[] = [];
  const images = await imagesOf(deps, plan.artifacts.filter((a) => a.kind === "image"));
  const inLayout = new Set(images.map((i) => `${i.component}/${i.version}/${i.filename}`));
  if (images.length) {
    const rows = await deps.db.containerImage.findMany({ where: { manifestDigest: { in: images.map((i) => i.manifestDigest) } } });
    const unique = [...new Map(rows.map((r) => [r.manifestDigest, r])).values()].sort((a, b) => (a.manifestDigest < b.manifestDigest ? -1 : 1));
    for (const entry of await ociLayoutEntries(deps.blobs, unique)) {
      files.push(
        entry.bytes
          ? bytesFile(entry.path, entry.bytes, "image")
          : { path: entry.path, size: entry.size, sha256: entry.sha256, role: "image", mode: 0o644, source: { blob: entry.sha256 } },
      );
    }
  }
  for (const a of plan.artifacts) {
    if (inLayout.has(`${a.component}/${a.version}/${a.filename}`)) continue;
    files.push({ path: `artifacts/${a.component}/${a.version}/${a.filename}`, size: a.size, sha256: a.sha256, role: "artifact", mode: 0o644, source: { blob: a.sha256 } });
  }
  for (const database of plan.sql) {
    database.scripts.forEach((s, index) => {
      files.push({ path: sqlPath(database.database, index, s.filename), size: s.size, sha256: s.sha256, role: "sql", mode: 0o644, source: { blob: s.sha256 } });
    });
  }
  const described = plan.components.filter((c) => c.action !== "unchanged").map((c) => c.name);
  for (const name of described) files.push(...(await catalogFiles(catalog, name, plan.site.platform)));
  if (plan.site.platform === "docker") files.push(bytesFile("compose.yaml", Buffer.from(composeYaml(plan, catalog, images)), "compose"));
  files.push(bytesFile("install.sh", Buffer.from(INSTALL_SH), "installer", 0o755));
  const agent = await buildAgentScript();
  if (agent) files.push(bytesFile("agent/ferry-agent.mjs", agent, "agent"));
  return { files: files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), images };
}

/** Image artifacts that were parsed into container images on upload (the others travel as plain files). */
async function imagesOf(deps: LayoutDeps, artifacts: PlannedArtifact[]): Promise<BundleImage[]> {
  if (!artifacts.length) return [];
  const rows = await deps.db.containerImage.findMany({
    where: { artifact: { OR: artifacts.map((a) => ({ component: a.component, version: a.version, filename: a.filename })) } },
    include: { artifact: { select: { component: true, version: true, filename: true, sha256: true } } },
  });
  return rows
    .map((r) => ({ ...r.artifact, name: r.name, tag: r.tag, manifestDigest: r.manifestDigest }))
    .sort((a, b) => (`${a.component}/${a.version}/${a.filename}` < `${b.component}/${b.version}/${b.filename}` ? -1 : 1));
}

/** service.yml, its config templates, its pipelines with includes expanded, and its chart on k8s sites. */
async function catalogFiles(catalog: CatalogService, name: string, platform: string): Promise<BundleFile[]> {
  const component = catalog.get(name);
  if (!component) return [];
  const at = (relative: string) => `catalog/${name}/${relative}`;
  const files = [bytesFile(at("service.yml"), await readFile(path.join(component.dir, "service.yml")), "catalog")];
  for (const config of component.config) files.push(bytesFile(at(config.source), await readFile(path.join(component.dir, config.source)), "catalog"));
  const pipelines = `${JSON.stringify(JSON.parse(canonicalJson(component.pipelines)), null, 2)}\n`;
  files.push(bytesFile(at("pipelines.json"), Buffer.from(pipelines), "catalog"));
  if (platform === "k8s" && component.chart) {
    const chartDir = path.join(component.dir, component.chart);
    const entries = await readdir(chartDir, { recursive: true, withFileTypes: true });
    for (const entry of entries.filter((e) => e.isFile())) {
      const full = path.join(entry.parentPath, entry.name);
      const relative = path.relative(component.dir, full).split(path.sep).join("/");
      files.push(bytesFile(at(relative), await readFile(full), "catalog"));
    }
  }
  return files;
}

const imageRef = (image: BundleImage | undefined) => (image ? `${image.name}:${image.tag}` : undefined);

/** The selected services for `docker compose`: each with its bundled image's name:tag (else `<component>:<version>`). */
function composeYaml(plan: BundlePlan, catalog: CatalogService, images: BundleImage[]): string {
  const selected = new Set(plan.components.filter((c) => c.action !== "remove").map((c) => c.name));
  const services: Record<string, unknown> = {};
  for (const c of plan.components) {
    if (c.action === "remove") continue;
    const descriptor = catalog.get(c.name);
    const dependsOn = (descriptor?.dependsOn ?? []).filter((dep) => selected.has(dep));
    const ports = (descriptor?.ports ?? []).filter((p) => p.public).map((p) => ({ target: p.port, published: p.port }));
    services[c.name] = {
      image: imageRef(images.find((i) => i.component === c.name && i.version === c.version)) ?? `${c.name}:${c.version}`,
      restart: "unless-stopped",
      ...(dependsOn.length ? { depends_on: dependsOn } : {}),
      ...(ports.length ? { ports } : {}),
    };
  }
  return `# Generated by Ferry for ${plan.site.customer}/${plan.site.name}, ${plan.release.product} ${plan.release.version}\n${dump({ name: plan.release.product, services }, { sortKeys: true, lineWidth: -1 })}`;
}
