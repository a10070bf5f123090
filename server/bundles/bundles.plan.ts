/**
 * What a bundle (or a deployment preview) for one site and one target release carries:
 * components with their action, the artifacts to ship, the SQL to run per database, the
 * required releases crossed, and for an incremental bundle what must already be at the
 * site. Nothing here writes; the builder and `GET /sites/:id/plan` both call it.
 *
 * Incremental rules (SPEC §5): a component is shipped only when it is new or changed; of
 * a changed component only the artifacts whose sha256 the site does not already hold (the
 * base release's artifact set); SQL is what `diffReleases` calls "between" the two, taken
 * leg by leg through every `required` release crossed, so stepping stones are never
 * skipped.
 */
import type { AppContext } from "../context.js";
import { badRequest, conflict } from "../errors.js";
import { diffReleases } from "../releases/releases.diff.js";
import type { ReleaseView, ReleaseWithComponents } from "../releases/releases.service.js";
import { compareVersions } from "../releases/versions.js";
import { assertScriptsApproved, listScriptsForComponents } from "../sql/sql.approval.js";

export type PlanContext = Pick<AppContext, "db" | "catalog" | "releases" | "sites">;

export interface PlanInput {
  siteId: string;
  product: string;
  version: string;
  /** "installed", a release version of the same product, or undefined for a full bundle. */
  from?: string;
  components?: string[];
}

export type ComponentAction = "install" | "upgrade" | "remove" | "unchanged";

export interface PlannedComponent {
  name: string;
  version: string;
  fromVersion: string | null;
  action: ComponentAction;
  order: number;
}

export interface PlannedArtifact {
  component: string;
  version: string;
  filename: string;
  kind: string;
  sha256: string;
  size: number;
}

export interface PlannedScript {
  id: string;
  component: string;
  version: string;
  filename: string;
  type: string;
  orderVersion: string;
  sha256: string;
  size: number;
  /** The release whose upgrade introduces the script (a stepping stone or the target). */
  release: string;
  approvals: Array<{ reviewer: string; at: string; sha256: string }>;
}

export interface PlannedDatabase {
  database: string;
  dialect: string;
  scripts: PlannedScript[];
}

export interface ReleaseRef {
  product: string;
  version: string;
  digest: string;
}

export interface BundlePlan {
  site: { id: string; name: string; customer: string; environment: string; platform: string; connectivity: string };
  release: ReleaseRef & { sealedAt: string; required: boolean };
  base: ReleaseRef | null;
  mode: "full" | "incremental";
  requestedComponents: string[] | null;
  addedDependencies: string[];
  components: PlannedComponent[];
  artifacts: PlannedArtifact[];
  sql: PlannedDatabase[];
  requiredReleases: ReleaseRef[];
  expects: { release: ReleaseRef; components: Array<{ name: string; version: string }>; artifacts: PlannedArtifact[] } | null;
  /** Bytes of artifacts and SQL shipped. */
  bytes: number;
}

const presentArtifact = (a: { component: string; version: string; filename: string; kind: string; sha256: string; size: bigint | number }): PlannedArtifact => ({
  component: a.component,
  version: a.version,
  filename: a.filename,
  kind: a.kind,
  sha256: a.sha256,
  size: Number(a.size),
});

export async function planBundle(ctx: PlanContext, input: PlanInput): Promise<BundlePlan> {
  const site = await ctx.sites.getSite(input.siteId);
  const target = await requireSealed(ctx, input.product, input.version);
  const targetView = await ctx.releases.viewOf(target);

  const inRelease = new Set(targetView.components.map((c) => c.name));
  const selection = selectComponents(ctx, inRelease, input.components);
  const included = targetView.components.filter((c) => selection.names.has(c.name));
  const selected: ReleaseView = { release: target, components: included };

  const base = await resolveBase(ctx, site.row, target, input.from);
  const baseView = base ? await baseViewOf(ctx, base, site.row, input.from === "installed") : null;

  let components: PlannedComponent[];
  let artifacts: PlannedArtifact[];
  let sqlIds: Array<{ id: string; release: string }>;
  let requiredReleases: ReleaseRef[] = [];
  let expects: BundlePlan["expects"] = null;
  const shippable = (a: { kind: string }) => a.kind !== "sql";

  if (!baseView || !base) {
    components = included.map((c, order) => ({ name: c.name, version: c.version, fromVersion: null, action: "install", order }));
    artifacts = included.flatMap((c) => c.artifacts.filter(shippable).map(presentArtifact));
    const scripts = await listScriptsForComponents(ctx.db, included.map((c) => ({ name: c.name, version: c.version })));
    sqlIds = scripts.map((s) => ({ id: s.id, release: target.version }));
  } else {
    const before = new Map(baseView.components.map((c) => [c.name, c]));
    const atSite = new Set(baseView.components.flatMap((c) => c.artifacts.map((a) => a.sha256)));
    const diff = await diffReleases(baseView, selected, ctx.releases.repo, ctx.catalog);
    const changed = new Set([...diff.components.added, ...diff.components.changed].map((c) => c.name));
    components = included.map((c, order) => {
      const old = before.get(c.name);
      const action: ComponentAction = !old ? "install" : changed.has(c.name) ? "upgrade" : "unchanged";
      return { name: c.name, version: c.version, fromVersion: old?.version ?? null, action, order };
    });
    // Only components dropped from the release are removed; ones merely left out of a subset stay.
    const dropped = baseView.components.filter((c) => !inRelease.has(c.name));
    const removeOrder = ctx.catalog.topologicalOrder(dropped.map((c) => c.name)).reverse();
    for (const name of removeOrder) {
      const old = before.get(name)!;
      components.push({ name, version: old.version, fromVersion: old.version, action: "remove", order: components.length });
    }
    artifacts = included
      .filter((c) => changed.has(c.name))
      .flatMap((c) => c.artifacts.filter((a) => shippable(a) && !atSite.has(a.sha256)).map(presentArtifact));
    const kept = included.filter((c) => before.has(c.name));
    expects = {
      release: releaseRef(base),
      components: kept.map((c) => ({ name: c.name, version: before.get(c.name)!.version })),
      artifacts: kept.flatMap((c) => c.artifacts.filter((a) => shippable(a) && atSite.has(a.sha256)).map(presentArtifact)),
    };
    const stones = await requiredBetween(ctx, base, target);
    requiredReleases = stones.map(releaseRef);
    sqlIds = await scriptsAcrossLegs(ctx, baseView, stones, selected, selection.names);
  }

  const sql = await loadScripts(ctx, sqlIds);
  const carriedVersions = new Map<string, { name: string; version: string }>();
  for (const c of included) carriedVersions.set(`${c.name}@${c.version}`, { name: c.name, version: c.version });
  for (const db of sql) for (const s of db.scripts) carriedVersions.set(`${s.component}@${s.version}`, { name: s.component, version: s.version });
  await assertScriptsApproved(ctx.db, [...carriedVersions.values()]);

  const bytes = artifacts.reduce((sum, a) => sum + a.size, 0) + sql.reduce((sum, db) => sum + db.scripts.reduce((s, x) => s + x.size, 0), 0);
  return {
    site: {
      id: site.row.id,
      name: site.row.name,
      customer: site.customer,
      environment: site.row.environment,
      platform: site.row.platform,
      connectivity: site.row.connectivity,
    },
    release: { ...releaseRef(target), sealedAt: target.sealedAt!.toISOString(), required: target.required },
    base: base ? releaseRef(base) : null,
    mode: base ? "incremental" : "full",
    requestedComponents: input.components ? [...input.components].sort() : null,
    addedDependencies: selection.added,
    components,
    artifacts,
    sql,
    requiredReleases,
    expects,
    bytes,
  };
}

function releaseRef(release: ReleaseWithComponents): ReleaseRef {
  return { product: release.product, version: release.version, digest: release.digest ?? "" };
}

async function requireSealed(ctx: PlanContext, product: string, version: string): Promise<ReleaseWithComponents> {
  const release = await ctx.releases.require(product, version);
  if (release.status !== "sealed" || !release.sealedAt || !release.digest) {
    throw conflict("release_not_sealed", `release ${product} ${version} is a draft; seal it before bundling or deploying it`, { product, version });
  }
  return release;
}

/** The requested subset plus its dependsOn closure, limited to what the release ships. */
function selectComponents(ctx: PlanContext, inRelease: Set<string>, requested: string[] | undefined): { names: Set<string>; added: string[] } {
  if (!requested) return { names: inRelease, added: [] };
  const missing = requested.filter((name) => !inRelease.has(name));
  if (missing.length) {
    throw badRequest("components_not_in_release", `not part of the release: ${missing.join(", ")}`, { components: missing });
  }
  // A dependency the release does not ship (an external database, say) is the site's own business.
  const names = new Set(ctx.catalog.dependencyClosure(requested).filter((name) => inRelease.has(name)));
  for (const name of requested) names.add(name);
  const asked = new Set(requested);
  return { names, added: [...names].filter((name) => !asked.has(name)).sort() };
}

async function resolveBase(
  ctx: PlanContext,
  site: { id: string; installedProduct: string | null; installedVersion: string | null },
  target: ReleaseWithComponents,
  from: string | undefined,
): Promise<ReleaseWithComponents | null> {
  if (from === undefined) return null;
  let version = from;
  if (from === "installed") {
    if (!site.installedVersion) throw conflict("nothing_installed", `site ${site.id} has no installed release recorded; build a full bundle or pass a version`);
    if (site.installedProduct !== target.product) {
      throw conflict("product_mismatch", `site ${site.id} runs ${site.installedProduct}, not ${target.product}`, { installed: site.installedProduct });
    }
    version = site.installedVersion;
  }
  const base = await requireSealed(ctx, target.product, version);
  if (compareVersions(base.version, target.version) > 0) {
    throw badRequest("invalid_base", `base ${base.version} is newer than ${target.version}; bundles only go forward (roll back with a deployment)`);
  }
  return base;
}

/** The base as the site holds it: for `from: installed`, the components the site recorded (versions may differ from the release's). */
async function baseViewOf(ctx: PlanContext, base: ReleaseWithComponents, site: { installedComponents: unknown }, installed: boolean): Promise<ReleaseView> {
  const view = await ctx.releases.viewOf(base);
  const recorded = installed && Array.isArray(site.installedComponents) ? (site.installedComponents as Array<{ name: string; version: string }>) : null;
  if (!recorded) return view;
  const fromRelease = new Map(view.components.map((c) => [c.name, c]));
  const differing = recorded.filter((c) => fromRelease.get(c.name)?.version !== c.version);
  const extra = await ctx.releases.repo.artifactsAt(differing);
  return {
    release: base,
    components: ctx.catalog.topologicalOrder(recorded.map((c) => c.name)).map((name) => {
      const { version } = recorded.find((c) => c.name === name)!;
      const same = fromRelease.get(name);
      const artifacts = same && same.version === version ? same.artifacts : extra.filter((a) => a.component === name && a.version === version);
      return { name, version, inCatalog: Boolean(ctx.catalog.get(name)), artifacts };
    }),
  };
}

/** Sealed `required` releases of the product strictly between base and target, oldest first. */
async function requiredBetween(ctx: PlanContext, base: ReleaseWithComponents, target: ReleaseWithComponents): Promise<ReleaseWithComponents[]> {
  const rows = await ctx.db.release.findMany({ where: { product: target.product, status: "sealed", required: true }, select: { version: true } });
  const versions = rows
    .map((r) => r.version)
    .filter((v) => compareVersions(v, base.version) > 0 && compareVersions(v, target.version) < 0)
    .sort(compareVersions);
  return Promise.all(versions.map((v) => ctx.releases.require(target.product, v)));
}

/** SQL between each consecutive pair of base → stepping stones → target, limited to the selected components. */
async function scriptsAcrossLegs(
  ctx: PlanContext,
  baseView: ReleaseView,
  stones: ReleaseWithComponents[],
  target: ReleaseView,
  names: Set<string>,
): Promise<Array<{ id: string; release: string }>> {
  const only = (view: ReleaseView): ReleaseView => ({ release: view.release, components: view.components.filter((c) => names.has(c.name)) });
  const legs: ReleaseView[] = [only(baseView)];
  for (const stone of stones) legs.push(only(await ctx.releases.viewOf(stone)));
  legs.push(target);
  const ids: Array<{ id: string; release: string }> = [];
  const seen = new Set<string>();
  for (let i = 1; i < legs.length; i++) {
    const diff = await diffReleases(legs[i - 1]!, legs[i]!, ctx.releases.repo, ctx.catalog);
    for (const database of diff.sql) {
      for (const script of database.scripts as Array<{ id: string }>) {
        if (seen.has(script.id)) continue;
        seen.add(script.id);
        ids.push({ id: script.id, release: legs[i]!.release.version });
      }
    }
  }
  return ids;
}

/** Script rows with their approvals, grouped per database (sorted), each in the order given. */
async function loadScripts(ctx: PlanContext, wanted: Array<{ id: string; release: string }>): Promise<PlannedDatabase[]> {
  if (!wanted.length) return [];
  const rows = await ctx.db.sqlScript.findMany({
    where: { id: { in: wanted.map((w) => w.id) } },
    include: { artifact: true, reviews: { where: { decision: "approve" }, orderBy: { createdAt: "asc" } } },
  });
  const byId = new Map(rows.map((r) => [r.id, r]));
  const groups = new Map<string, PlannedDatabase>();
  for (const { id, release } of wanted) {
    const row = byId.get(id);
    if (!row) continue;
    const group = groups.get(row.database) ?? { database: row.database, dialect: row.dialect, scripts: [] };
    group.scripts.push({
      id: row.id,
      component: row.component,
      version: row.artifact.version,
      filename: row.artifact.filename,
      type: row.type,
      orderVersion: row.orderVersion,
      sha256: row.artifact.sha256,
      size: Number(row.artifact.size),
      release,
      approvals: row.reviews.map((r) => ({ reviewer: r.reviewer, at: r.createdAt.toISOString(), sha256: r.sha256 })),
    });
    groups.set(row.database, group);
  }
  return [...groups.values()].sort((a, b) => (a.database < b.database ? -1 : a.database > b.database ? 1 : 0));
}
