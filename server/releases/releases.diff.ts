/**
 * What changes between two releases of a product: components added, removed or changed
 * (version, or artifacts by checksum), and the SQL scripts an upgrade from `base` to
 * `target` runs, per database, in order.
 *
 * "SQL between" = the `upgrade` and `repeatable` scripts uploaded under the target's
 * component versions that the base's component versions do not have (same database,
 * type and order key; a repeatable counts as new when its checksum changed). Whether CI
 * uploads every script with each version or only the new ones, the result is the same.
 * A script ordered at or below the base's last script of that database is flagged
 * `outOfOrder`: it would run after scripts that sort later.
 */
import type { CatalogService } from "../catalog/catalog.service.js";
import { compareCodeUnits } from "../util/compare.js";
import type { ArtifactRow, ReleasesRepo } from "./releases.repo.js";
import type { ReleaseView } from "./releases.service.js";

type Script = Awaited<ReturnType<ReleasesRepo["sqlScriptsOf"]>>[number];

const presentArtifact = (a: ArtifactRow) => ({ filename: a.filename, kind: a.kind, sha256: a.sha256, size: Number(a.size) });

export async function diffReleases(base: ReleaseView, target: ReleaseView, repo: ReleasesRepo, catalog: CatalogService) {
  const before = new Map(base.components.map((c) => [c.name, c]));
  const after = new Map(target.components.map((c) => [c.name, c]));
  const added = target.components.filter((c) => !before.has(c.name));
  const removed = base.components.filter((c) => !after.has(c.name));
  const changed = [];
  const unchanged = [];
  for (const component of target.components) {
    const old = before.get(component.name);
    if (!old) continue;
    const artifacts = diffArtifacts(component.name, old.artifacts, component.artifacts, catalog);
    const same = old.version === component.version && !artifacts.added.length && !artifacts.removed.length && !artifacts.changed.length;
    if (same) unchanged.push({ name: component.name, version: component.version });
    else changed.push({ name: component.name, from: old.version, to: component.version, artifacts });
  }

  const refs = (view: ReleaseView) => view.components.map((c) => ({ name: c.name, version: c.version }));
  const [baseScripts, targetScripts] = await Promise.all([repo.sqlScriptsOf(refs(base)), repo.sqlScriptsOf(refs(target))]);
  return {
    components: {
      added: added.map((c) => ({ name: c.name, version: c.version, artifacts: c.artifacts.map(presentArtifact) })),
      removed: removed.map((c) => ({ name: c.name, version: c.version })),
      changed,
      unchanged,
    },
    sql: scriptsBetween(baseScripts, targetScripts),
  };
}

/** Matches by file name; files renamed with the version (orders-api-1.2.tar.gz) pair up by their catalog artifact entry. */
function diffArtifacts(component: string, from: ArtifactRow[], to: ArtifactRow[], catalog: CatalogService) {
  const oldByName = new Map(from.map((a) => [a.filename, a]));
  const newByName = new Map(to.map((a) => [a.filename, a]));
  const changed: Array<{ entry?: string; from: ReturnType<typeof presentArtifact>; to: ReturnType<typeof presentArtifact> }> = [];
  for (const [filename, artifact] of newByName) {
    const old = oldByName.get(filename);
    if (old && old.sha256 !== artifact.sha256) changed.push({ from: presentArtifact(old), to: presentArtifact(artifact) });
  }
  let gone = from.filter((a) => !newByName.has(a.filename));
  let fresh = to.filter((a) => !oldByName.has(a.filename));
  const entryOf = (a: ArtifactRow) => catalog.artifactEntry(component, a)?.name;
  for (const entry of new Set(fresh.map(entryOf).filter((name): name is string => Boolean(name)))) {
    const olds = gone.filter((a) => entryOf(a) === entry);
    const news = fresh.filter((a) => entryOf(a) === entry);
    if (olds.length !== 1 || news.length !== 1) continue;
    const [old, next] = [olds[0]!, news[0]!];
    gone = gone.filter((a) => a !== old);
    fresh = fresh.filter((a) => a !== next);
    if (old.sha256 !== next.sha256) changed.push({ entry, from: presentArtifact(old), to: presentArtifact(next) });
  }
  return { added: fresh.map(presentArtifact), removed: gone.map(presentArtifact), changed };
}

function scriptsBetween(baseScripts: Script[], targetScripts: Script[]) {
  const key = (s: Script) => `${s.database}\u0000${s.type}\u0000${s.orderKey}`;
  const inBase = new Map(baseScripts.map((s) => [key(s), s]));
  const lastBaseKey = new Map<string, string>();
  for (const s of baseScripts) {
    if (s.type === "upgrade" && s.orderKey > (lastBaseKey.get(s.database) ?? "")) lastBaseKey.set(s.database, s.orderKey);
  }
  const byDatabase = new Map<string, { database: string; dialect: string; scripts: unknown[] }>();
  const seen = new Set<string>();
  for (const script of targetScripts) {
    if (script.type !== "upgrade" && script.type !== "repeatable") continue;
    const old = inBase.get(key(script));
    if (old && (script.type === "upgrade" || old.artifact.sha256 === script.artifact.sha256)) continue;
    // The same script uploaded under two component versions of one release counts once.
    if (seen.has(key(script))) continue;
    seen.add(key(script));
    const group = byDatabase.get(script.database) ?? { database: script.database, dialect: script.dialect, scripts: [] };
    const last = lastBaseKey.get(script.database);
    group.scripts.push({
      id: script.id,
      component: script.component,
      version: script.artifact.version,
      filename: script.artifact.filename,
      type: script.type,
      orderVersion: script.orderVersion,
      sha256: script.artifact.sha256,
      status: script.status,
      outOfOrder: script.type === "upgrade" && last !== undefined && script.orderKey <= last,
    });
    byDatabase.set(script.database, group);
  }
  return [...byDatabase.values()].sort((a, b) => compareCodeUnits(a.database, b.database));
}
