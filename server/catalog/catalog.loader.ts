/**
 * Loads a whole catalog: every `<catalogDir>/<component>/service.yml` plus the pipeline
 * templates, then the checks across components (unknown dependencies, cycles). Either
 * the whole catalog is valid, or every problem is returned with its file and line.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import { compareCodeUnits } from "../util/compare.js";
import { loadComponent, type LoadedComponent } from "./catalog.component.js";
import { findCycles, topologicalSort } from "./catalog.graph.js";
import type { Report } from "./catalog.issues.js";
import { loadTemplates, readYamlFile } from "./catalog.templates.js";
import type { Catalog, CatalogProblem } from "./catalog.types.js";

export interface CatalogLocation {
  catalogDir: string;
  /** Pipeline templates; by convention the `pipelines` folder next to the catalog folder. */
  pipelinesDir: string;
}

export type LoadCatalogResult = { ok: true; catalog: Catalog } | { ok: false; problems: CatalogProblem[] };

export function defaultPipelinesDir(catalogDir: string): string {
  return path.join(path.dirname(path.resolve(catalogDir)), "pipelines");
}

export async function loadCatalog(location: CatalogLocation): Promise<LoadCatalogResult> {
  const catalogDir = path.resolve(location.catalogDir);
  const base = path.dirname(catalogDir);
  const relative = (file: string) => path.relative(base, file).split(path.sep).join("/");
  const problems: CatalogProblem[] = [];
  const reportIn =
    (file: string): Report =>
    (line, message) =>
      problems.push({ file: relative(file), line, message });

  const templates = await loadTemplates(path.resolve(location.pipelinesDir), reportIn, relative);

  let entries;
  try {
    entries = await readdir(catalogDir, { withFileTypes: true });
  } catch (error) {
    reportIn(catalogDir)(0, `cannot read the catalog folder: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return { ok: false, problems };
  }
  const folders = entries.filter((entry) => entry.isDirectory() && !entry.name.startsWith(".")).map((entry) => entry.name).sort();
  const loaded = new Map<string, LoadedComponent>();
  for (const name of folders) {
    const dir = path.join(catalogDir, name);
    const file = path.join(dir, "service.yml");
    const report = reportIn(file);
    const source = await readYamlFile(file, report);
    if (!source) continue;
    loaded.set(name, await loadComponent({ name, dir, file: relative(file), source, templates, report, reportIn }));
  }

  // Dependencies and cycles are checked on every descriptor that validated, even one with
  // other problems, so a single reload lists everything to fix.
  const declared = new Map([...loaded].flatMap(([name, entry]) => (entry.dependsOn ? [[name, entry.dependsOn] as const] : [])));
  for (const [name, deps] of declared) {
    deps.forEach((dep, index) => {
      if (!folders.includes(dep)) {
        reportIn(path.join(catalogDir, name, "service.yml"))(loaded.get(name)!.source.lineOf(["dependsOn", index]), `dependsOn[${index}]: unknown component "${dep}"`);
      }
    });
  }
  for (const cycle of findCycles(declared)) {
    const [first, next] = [cycle[0]!, cycle[1] ?? cycle[0]!];
    const line = loaded.get(first)!.source.lineOf(["dependsOn", declared.get(first)!.indexOf(next)]);
    reportIn(path.join(catalogDir, first, "service.yml"))(line, `dependency cycle: ${[...cycle, first].join(" → ")}`);
  }

  if (problems.length) {
    problems.sort((a, b) => compareCodeUnits(a.file, b.file) || a.line - b.line);
    return { ok: false, problems };
  }
  const components = new Map([...loaded].map(([name, entry]) => [name, entry.component!]));
  return {
    ok: true,
    catalog: { components, templates, order: topologicalSort(declared), loadedAt: new Date() },
  };
}
