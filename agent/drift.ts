/**
 * Before an incremental bundle: does the site hold exactly what the bundle was built
 * against? The installed release, each kept component's version, each artifact the
 * bundle leaves out (by sha256, re-hashed), and every file the agent installed for those
 * components (re-hashed). Each difference is listed; any stops the apply unless --force.
 */
import { lstat } from "node:fs/promises";
import { sha256File } from "./fsutil.js";
import type { BundleManifest } from "./manifest.js";
import type { AgentState, WorkDir } from "./state.js";

export type Drift =
  | { kind: "site"; expected: string; found: string }
  | { kind: "release"; expected: string; found: string | null }
  | { kind: "component_missing"; component: string; expected: string }
  | { kind: "component_version"; component: string; expected: string; found: string }
  | { kind: "artifact_missing"; component: string; filename: string; sha256: string }
  | { kind: "artifact_changed"; component: string; filename: string; expected: string; found: string }
  | { kind: "file_missing"; component: string; path: string }
  | { kind: "file_changed"; component: string; path: string; expected: string; found: string };

const releaseLabel = (r: { product: string; version: string; digest: string }) => `${r.product} ${r.version} (${r.digest.slice(0, 12)})`;

export async function checkDrift(manifest: BundleManifest, state: AgentState, workdir: WorkDir): Promise<Drift[]> {
  const drift: Drift[] = [];
  if (state.site && state.site.id !== manifest.site.id) drift.push({ kind: "site", expected: manifest.site.id, found: state.site.id });
  const expects = manifest.expects;
  if (!expects) return drift;
  const installed = state.release;
  if (!installed || installed.product !== expects.release.product || installed.version !== expects.release.version || installed.digest !== expects.release.digest) {
    drift.push({ kind: "release", expected: releaseLabel(expects.release), found: installed ? releaseLabel(installed) : null });
  }
  for (const expected of expects.components) {
    const component = state.components[expected.name];
    if (!component) drift.push({ kind: "component_missing", component: expected.name, expected: expected.version });
    else if (component.version !== expected.version) drift.push({ kind: "component_version", component: expected.name, expected: expected.version, found: component.version });
  }
  for (const artifact of expects.artifacts) {
    const found = await sha256File(workdir.blob(artifact.sha256)).catch(() => null);
    if (found === null) drift.push({ kind: "artifact_missing", component: artifact.component, filename: artifact.filename, sha256: artifact.sha256 });
    else if (found !== artifact.sha256) drift.push({ kind: "artifact_changed", component: artifact.component, filename: artifact.filename, expected: artifact.sha256, found });
  }
  for (const expected of expects.components) {
    for (const [file, recorded] of Object.entries(state.components[expected.name]?.files ?? {})) {
      const info = await lstat(file).catch(() => null);
      if (!info || !info.isFile()) {
        drift.push({ kind: "file_missing", component: expected.name, path: file });
        continue;
      }
      const found = await sha256File(file);
      if (found !== recorded.sha256) drift.push({ kind: "file_changed", component: expected.name, path: file, expected: recorded.sha256, found });
    }
  }
  return drift;
}

export function describeDrift(item: Drift): string {
  switch (item.kind) {
    case "site":
      return `the bundle is for site ${item.expected}, this work directory belongs to site ${item.found}`;
    case "release":
      return `expected release ${item.expected} installed, found ${item.found ?? "nothing"}`;
    case "component_missing":
      return `${item.component} ${item.expected} is expected but not installed`;
    case "component_version":
      return `${item.component}: expected ${item.expected}, found ${item.found}`;
    case "artifact_missing":
      return `${item.component}: artifact ${item.filename} (${item.sha256.slice(0, 12)}…) is not at the site`;
    case "artifact_changed":
      return `${item.component}: artifact ${item.filename} changed at the site`;
    case "file_missing":
      return `${item.component}: ${item.path} is missing`;
    case "file_changed":
      return `${item.component}: ${item.path} was modified since it was installed`;
  }
}
