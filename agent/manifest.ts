/**
 * The parts of `manifest.json` (format `ferry-bundle/v1`, SPEC §5) the agent acts on. The
 * server's builder writes it (server/bundles/bundles.manifest.ts); the agent never imports
 * server code, so the shape is restated here and checked on load.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";

export type ComponentAction = "install" | "upgrade" | "remove" | "unchanged";

export interface ReleaseRef {
  product: string;
  version: string;
  digest: string;
}

export interface ManifestComponent {
  name: string;
  version: string;
  fromVersion: string | null;
  action: ComponentAction;
  order: number;
}

export interface ManifestArtifact {
  component: string;
  version: string;
  filename: string;
  kind: string;
  sha256: string;
  size: number;
  /** Set for artifacts the bundle carries; absent in `expects`. */
  path?: string;
}

export interface ManifestScript {
  id: string;
  component: string;
  version: string;
  filename: string;
  type: string;
  orderVersion: string;
  sha256: string;
  size: number;
  release: string;
  approvals: Array<{ reviewer: string; at: string; sha256: string }>;
  path: string;
}

export interface ManifestDatabase {
  database: string;
  dialect: string;
  scripts: ManifestScript[];
}

export interface BundleManifest {
  format: "ferry-bundle/v1";
  id: string;
  folder: string;
  site: { id: string; name: string; customer: string; environment: string; platform: string; connectivity: string };
  release: ReleaseRef & { sealedAt?: string; required?: boolean };
  base: ReleaseRef | null;
  mode: "full" | "incremental";
  components: ManifestComponent[];
  files: Array<{ path: string; sha256: string; size: number; role: string }>;
  artifacts: ManifestArtifact[];
  sql: ManifestDatabase[];
  expects: { release: ReleaseRef; components: Array<{ name: string; version: string }>; artifacts: ManifestArtifact[] } | null;
}

export class BundleError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

const SAFE_RELATIVE = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0\\]+$/;

export async function readManifest(bundleDir: string): Promise<BundleManifest> {
  const text = await readFile(path.join(bundleDir, "manifest.json"), "utf8").catch(() => {
    throw new BundleError("manifest_missing", `${bundleDir} holds no manifest.json; is it a Ferry bundle?`);
  });
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(text) as BundleManifest;
  } catch {
    throw new BundleError("manifest_invalid", "manifest.json is not valid JSON");
  }
  if (manifest.format !== "ferry-bundle/v1") throw new BundleError("manifest_format", `unsupported bundle format ${JSON.stringify(manifest.format)}; this agent reads ferry-bundle/v1`);
  for (const field of ["id", "site", "release", "components", "files", "artifacts", "sql"] as const) {
    if (manifest[field] === undefined || manifest[field] === null) throw new BundleError("manifest_invalid", `manifest.json lacks "${field}"`);
  }
  const paths = [...manifest.files.map((f) => f.path), ...manifest.artifacts.flatMap((a) => (a.path ? [a.path] : [])), ...manifest.sql.flatMap((d) => d.scripts.map((s) => s.path))];
  for (const relative of paths) {
    if (!SAFE_RELATIVE.test(relative)) throw new BundleError("manifest_invalid", `manifest.json names an unsafe path: ${JSON.stringify(relative)}`);
  }
  return manifest;
}

/** Components in the order the manifest gives (dependencies first; removals last, dependents first). */
export function componentsInOrder(manifest: BundleManifest): ManifestComponent[] {
  return [...manifest.components].sort((a, b) => a.order - b.order);
}
