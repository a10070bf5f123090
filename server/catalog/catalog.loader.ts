/**
 * Loads a whole catalog: every `<catalogDir>/<component>/service.yml` plus the pipeline
 * templates, then the checks across components (unknown dependencies, cycles). Either
 * the whole catalog is valid, or every problem is returned with its file and line.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
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
    const result = await loadComponent({ name, dir, file: relative(file), source, templates, report, reportIn });
    if (result) loaded.set(name, result);
  }

  // Dependencies on a folder that failed to load are not reported again: its own problems are.
  for (const [name, { component, source }] of loaded) {
    component.dependsOn.forEach((dep, index) => {
      if (!loaded.has(dep) && !folders.includes(dep)) {
        reportIn(path.join(catalogDir, name, "service.yml"))(source.lineOf(["dependsOn", index]), `dependsOn[${index}]: unknown component "${dep}"`);
      }
    });
  }
  const graph = new Map([...loaded].map(([name, { component }]) => [name, component.dependsOn]));
  for (const cycle of findCycles(graph)) {
    const [first, next] = [cycle[0]!, cycle[1] ?? cycle[0]!];
    const { component, source } = loaded.get(first)!;
    const line = source.lineOf(["dependsOn", component.dependsOn.indexOf(next)]);
    reportIn(path.join(catalogDir, first, "service.yml"))(line, `dependency cycle: ${[...cycle, first].join(" → ")}`);
  }

  if (problems.length) {
    problems.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
    return { ok: false, problems };
  }
  return {
    ok: true,
    catalog: {
      components: new Map([...loaded].map(([name, { component }]) => [name, component])),
      templates,
      order: topologicalSort(graph),
      loadedAt: new Date(),
    },
  };
}
