/**
 * `manifest.json` (format `ferry-bundle/v1`), its Ed25519 signature and `SHA256SUMS`.
 *
 * The manifest lists every other file of the bundle with sha256, size and role, so the
 * signature over manifest.json covers the whole bundle. SHA256SUMS covers every file but
 * itself (manifest.json and manifest.json.sig included), so `sha256sum -c SHA256SUMS`
 * inside the folder checks everything a plain shell can check.
 *
 * Nothing in the manifest depends on when or how often it is built: `id` is derived from
 * the request's content (site, release digest, base digest, requested components), not
 * from the bundle row, so the same request always gives byte-identical bytes. The format
 * (tar or tar.gz) and part size are not part of it: they only change the wrapping.
 */
import type { BundleManifest as AgentBundleManifest } from "../../agent/manifest.js";
import { sign, type KeyObject } from "node:crypto";
import { canonicalJson } from "../util/canonical-json.js";
import { bytesFile, sha256Hex, sqlPath, type BundleFile, type BundleLayout } from "./bundles.layout.js";
import type { BundlePlan } from "./bundles.plan.js";

export const BUNDLE_FORMAT = "ferry-bundle/v1";

export function bundleContentId(plan: Pick<BundlePlan, "site" | "release" | "base" | "requestedComponents">): string {
  return sha256Hex(
    canonicalJson({ site: plan.site.id, release: plan.release.digest, base: plan.base?.digest ?? null, components: plan.requestedComponents }),
  );
}

/**
 * The agent reads what this writes; readableByAgent makes the compiler hold the two sides
 * of the ferry-bundle/v1 format together (the agent cannot import server code, so the
 * reader's type in agent/manifest.ts is the one definition).
 */
export function buildManifest(plan: BundlePlan, folder: string, { files, images }: BundleLayout) {
  const inLayout = new Set(images.map((i) => `${i.component}/${i.version}/${i.filename}`));
  return readableByAgent({
    format: BUNDLE_FORMAT,
    id: bundleContentId(plan),
    folder,
    customer: { name: plan.site.customer },
    site: plan.site,
    release: plan.release,
    base: plan.base,
    mode: plan.mode,
    requestedComponents: plan.requestedComponents,
    addedDependencies: plan.addedDependencies,
    components: plan.components,
    requiredReleases: plan.requiredReleases,
    files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size, role: f.role })),
    artifacts: plan.artifacts.map((a) => {
      const key = `${a.component}/${a.version}/${a.filename}`;
      return { ...a, path: inLayout.has(key) ? "images/" : `artifacts/${key}` };
    }),
    sql: plan.sql.map((database) => ({
      database: database.database,
      dialect: database.dialect,
      scripts: database.scripts.map((s, index) => ({ ...s, path: sqlPath(database.database, index, s.filename) })),
    })),
    // One OCI image layout under images/ (each blob once): `skopeo copy oci:images:<name>:<tag> …`.
    images: images.map((i) => ({ ...i, ref: `${i.name}:${i.tag}` })),
    expects: plan.expects,
  });
}

/** Identity at run time; at compile time, proof that the agent can read the manifest (extra fields it ignores are fine). */
function readableByAgent<T extends AgentBundleManifest>(manifest: T): T {
  return manifest;
}

export type BundleManifest = ReturnType<typeof buildManifest>;

/** Adds manifest.json, manifest.json.sig and SHA256SUMS to the files; returns all files sorted by path. */
export function sealBundle(plan: BundlePlan, folder: string, layout: BundleLayout, signingKey: KeyObject): { files: BundleFile[]; manifest: BundleManifest } {
  const manifest = buildManifest(plan, folder, layout);
  const { files } = layout;
  const manifestBytes = Buffer.from(`${JSON.stringify(JSON.parse(canonicalJson(manifest)), null, 2)}\n`);
  const signature = Buffer.from(`${sign(null, manifestBytes, signingKey).toString("base64")}\n`);
  const withManifest = [...files, bytesFile("manifest.json", manifestBytes, "manifest"), bytesFile("manifest.json.sig", signature, "signature")];
  const sums = sortByPath(withManifest)
    .map((f) => `${f.sha256}  ${f.path}\n`)
    .join("");
  return { files: sortByPath([...withManifest, bytesFile("SHA256SUMS", Buffer.from(sums), "checksums")]), manifest };
}

export function sortByPath<T extends { path: string }>(files: T[]): T[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
