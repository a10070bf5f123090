/**
 * Importing an apply report (`ferry-agent apply --report`, or the report an online or SSH
 * deployment brings back). The report is cross-checked against the manifest of the bundle
 * the server built (site, release and digest, every shipped component's version, every
 * shipped artifact's sha256) before anything is recorded; then the site's installed
 * release (on success), its history and each database's applied-script history, and, for
 * a deployment, the end of each step the report lists.
 */
import type { AppContext } from "../context.js";
import { conflict, badRequest } from "../errors.js";
import { Prisma } from "../generated/prisma/client.js";
import { dateOr } from "../util/dates.js";
import type { ApplyReport } from "./reports.schema.js";

type ReportContext = Pick<AppContext, "db" | "sites" | "deployments">;

interface ManifestFacts {
  id: string;
  site: { id: string };
  release: { product: string; version: string; digest: string };
  components: Array<{ name: string; version: string; action: string }>;
  artifacts: Array<{ component: string; version: string; filename: string; sha256: string }>;
}

export interface ImportResult {
  result: ApplyReport["result"];
  bundle: string | null;
  installed: { product: string; version: string } | null;
  scripts: number;
  duplicate: boolean;
}

export async function importReport(ctx: ReportContext, siteId: string, report: ApplyReport, actor: string, deploymentId?: string): Promise<ImportResult> {
  await ctx.sites.getSite(siteId); // 404 for an unknown site
  const seen = await ctx.db.siteEvent.findFirst({ where: { siteId, kind: "report-imported", details: { path: ["applyId"], equals: report.applyId } }, select: { id: true } });
  if (seen) return { result: report.result, bundle: report.bundle?.id ?? null, installed: null, scripts: 0, duplicate: true };
  if (report.result === "dry_run") throw badRequest("dry_run_report", "a --dry-run report changed nothing at the site; there is nothing to import");
  if (!report.bundle) {
    if (report.result === "succeeded") throw badRequest("invalid_report", "a succeeded report must name its bundle");
  } else if (report.bundle.site.id !== siteId) {
    throw conflict("report_site_mismatch", `the report is for site ${report.bundle.site.id}, not ${siteId}`, { reportSite: report.bundle.site.id });
  }
  const bundleRow = report.bundle
    ? await ctx.db.bundle.findFirst({ where: { siteId, manifest: { path: ["id"], equals: report.bundle.id } }, select: { id: true, manifest: true } })
    : null;
  if (report.bundle && !bundleRow) throw conflict("unknown_bundle", `no bundle ${report.bundle.id} was built for site ${siteId}`, { bundle: report.bundle.id });
  const manifest = (bundleRow?.manifest ?? null) as ManifestFacts | null;
  if (manifest && report.bundle) {
    const problems = crossCheck(manifest, report);
    if (problems.length) throw conflict("report_mismatch", `the report does not match bundle ${manifest.id}: ${problems.slice(0, 5).join("; ")}`, { problems });
  }

  const scripts = report.databases.flatMap((db) =>
    db.history.map((row) => ({
      siteId,
      database: db.database,
      // Repeatable scripts have no version: their filename identifies them.
      orderVersion: row.version ?? "",
      filename: row.filename,
      sha256: row.sha256,
      success: row.success,
      appliedAt: dateOr(row.installed_on, new Date()),
    })),
  );
  await ctx.db.$transaction(async (tx) => {
    await upsertScripts(tx, scripts);
    await tx.site.update({ where: { id: siteId }, data: { inventory: { components: report.inventory.components.map((c) => ({ name: c.name, version: c.version })), agentVersion: report.agentVersion ?? null, reportedAt: report.finishedAt } } });
    await tx.siteEvent.create({
      data: {
        siteId,
        kind: "report-imported",
        product: report.bundle?.release.product ?? null,
        version: report.bundle?.release.version ?? null,
        deploymentId: deploymentId ?? null,
        actor,
        details: {
          applyId: report.applyId,
          result: report.result,
          bundle: report.bundle?.id ?? null,
          error: report.error ?? null,
          steps: report.steps.map((s) => ({ seq: s.seq, component: s.component, name: s.name, status: s.status })),
          startedAt: report.startedAt,
          finishedAt: report.finishedAt,
          databases: report.databases.map((d) => ({ database: d.database, scripts: d.history.length, error: d.error ?? null })),
        },
      },
    });
  });

  if (deploymentId) await ctx.deployments.progress.settleSteps(deploymentId, report.steps, dateOr(report.finishedAt, new Date()));

  let installed: ImportResult["installed"] = null;
  if (report.result === "succeeded" && manifest) {
    const components = report.inventory.components.map((c) => ({ name: c.name, version: c.version }));
    await ctx.sites.recordInstalled(siteId, { product: manifest.release.product, version: manifest.release.version, components, deploymentId }, actor, "installed-reported");
    installed = { product: manifest.release.product, version: manifest.release.version };
  }
  return { result: report.result, bundle: report.bundle?.id ?? null, installed, scripts: scripts.length, duplicate: false };
}

type ScriptRow = { siteId: string; database: string; orderVersion: string; filename: string; sha256: string; success: boolean; appliedAt: Date };
const UPSERT_CHUNK = 1_000;

/**
 * Records the scripts' history, the later row winning for a script listed twice (a
 * repeatable run again). A few statements of a thousand rows each: one upsert per row made
 * a history of thousands of scripts take minutes inside one transaction.
 */
async function upsertScripts(tx: Prisma.TransactionClient, rows: ScriptRow[]): Promise<void> {
  const latest = new Map(rows.map((row) => [JSON.stringify([row.database, row.orderVersion, row.filename]), row]));
  const unique = [...latest.values()];
  for (let start = 0; start < unique.length; start += UPSERT_CHUNK) {
    const values = unique
      .slice(start, start + UPSERT_CHUNK)
      .map((r) => Prisma.sql`(${r.siteId}, ${r.database}, ${r.orderVersion}, ${r.filename}, ${r.sha256}, ${r.success}, ${r.appliedAt})`);
    await tx.$executeRaw`
      INSERT INTO "SiteScript" ("siteId", "database", "orderVersion", "filename", "sha256", "success", "appliedAt")
      VALUES ${Prisma.join(values)}
      ON CONFLICT ("siteId", "database", "orderVersion", "filename")
      DO UPDATE SET "sha256" = EXCLUDED."sha256", "success" = EXCLUDED."success", "appliedAt" = EXCLUDED."appliedAt"`;
  }
}

/** Differences between the bundle's manifest and what the report says the site ended up with. */
function crossCheck(manifest: ManifestFacts, report: ApplyReport): string[] {
  const problems: string[] = [];
  const bundle = report.bundle!;
  if (bundle.release.product !== manifest.release.product || bundle.release.version !== manifest.release.version) {
    problems.push(`release ${bundle.release.product} ${bundle.release.version} differs from the bundle's ${manifest.release.product} ${manifest.release.version}`);
  }
  if (bundle.release.digest !== undefined && bundle.release.digest !== manifest.release.digest) problems.push("release digest differs from the bundle's");
  if (report.result !== "succeeded") return problems;
  const inventory = new Map(report.inventory.components.map((c) => [c.name, c]));
  if (report.inventory.release && (report.inventory.release.product !== manifest.release.product || report.inventory.release.version !== manifest.release.version)) {
    problems.push(`the site reports release ${report.inventory.release.product} ${report.inventory.release.version}`);
  }
  for (const component of manifest.components) {
    const held = inventory.get(component.name);
    if (component.action === "remove") {
      if (held) problems.push(`${component.name} should have been removed`);
    } else if (!held) problems.push(`${component.name} is missing from the site's inventory`);
    else if (held.version !== component.version) problems.push(`${component.name} is at ${held.version}, the bundle ships ${component.version}`);
  }
  for (const artifact of manifest.artifacts) {
    const held = inventory.get(artifact.component);
    if (!held) continue;
    const match = held.artifacts.find((a) => a.filename === artifact.filename);
    if (!match) problems.push(`${artifact.component}/${artifact.filename} is missing from the site's inventory`);
    else if (match.sha256 !== artifact.sha256) problems.push(`${artifact.component}/${artifact.filename} has sha256 ${match.sha256}, the bundle ships ${artifact.sha256}`);
  }
  return problems;
}
