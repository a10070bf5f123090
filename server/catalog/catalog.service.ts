/**
 * The catalog a process serves. Loaded at start and on reload; a reload that finds any
 * problem keeps the catalog already in use, so a bad edit never takes components away.
 */
import { badRequest, notFound } from "../errors.js";
import type { Logger } from "../logger.js";
import { closure, topologicalSort } from "./catalog.graph.js";
import { loadCatalog, type CatalogLocation } from "./catalog.loader.js";
import type { ArtifactKind } from "./catalog.schema.js";
import type { Catalog, CatalogComponent, CatalogProblem } from "./catalog.types.js";
import { matchesGlob } from "./glob.js";

export interface CatalogState {
  loadedAt: Date | null;
  /** Problems of the last load attempt; empty when it succeeded. */
  problems: CatalogProblem[];
}

export class CatalogService {
  private catalog: Catalog = { components: new Map(), templates: new Map(), order: [], loadedAt: new Date(0) };
  private loaded = false;
  private problems: CatalogProblem[] = [];
  private pending: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly location: CatalogLocation,
    private readonly logger: Logger,
  ) {}

  /**
   * Start-up load. A broken catalog is logged, problem by problem, and the server starts
   * with an empty catalog: artifacts, SQL review and everything else keep working while
   * an admin fixes the files and reloads; only catalog-bound actions are refused.
   */
  async start(): Promise<CatalogState> {
    try {
      await this.reload();
    } catch (error) {
      for (const problem of this.problems) this.logger.error({ catalog: problem }, `catalog: ${problem.file}:${problem.line}: ${problem.message}`);
      this.logger.error({ problems: this.problems.length }, "catalog invalid at start-up: serving an empty catalog until POST /api/v1/catalog/reload succeeds");
      if (!this.problems.length) throw error;
    }
    return this.state();
  }

  /** Loads the catalog again; on any problem throws 400 `catalog_invalid` listing them all and keeps the old one. */
  reload(): Promise<Catalog> {
    const run = this.pending.then(async () => {
      const result = await loadCatalog(this.location);
      if (!result.ok) {
        this.problems = result.problems;
        throw badRequest("catalog_invalid", `the catalog has ${result.problems.length} problem(s); the previous catalog stays in use`, {
          problems: result.problems,
        });
      }
      this.catalog = result.catalog;
      this.loaded = true;
      this.problems = [];
      this.logger.info({ components: result.catalog.order }, "catalog loaded");
      return result.catalog;
    });
    this.pending = run.catch(() => undefined);
    return run;
  }

  state(): CatalogState {
    return { loadedAt: this.loaded ? this.catalog.loadedAt : null, problems: this.problems };
  }

  /** Every component, in dependency order. */
  list(): CatalogComponent[] {
    return this.catalog.order.map((name) => this.catalog.components.get(name)!);
  }

  get(name: string): CatalogComponent | undefined {
    return this.catalog.components.get(name);
  }

  require(name: string): CatalogComponent {
    const component = this.get(name);
    if (!component) throw notFound("component", name);
    return component;
  }

  /**
   * `names` in dependency order (dependencies first, ties by name). Names no longer in the
   * catalog (a sealed release outlives catalog edits) come last, sorted, rather than failing.
   */
  topologicalOrder(names: Iterable<string>): string[] {
    const wanted = new Set(names);
    const known = this.catalog.order.filter((name) => wanted.has(name));
    const unknown = [...wanted].filter((name) => !this.catalog.components.has(name)).sort();
    return [...known, ...unknown];
  }

  /** `names` plus everything they depend on, in dependency order; 400 `unknown_components` for names not in the catalog. */
  dependencyClosure(names: Iterable<string>): string[] {
    const graph = new Map([...this.catalog.components].map(([name, component]) => [name, component.dependsOn]));
    const result = closure(graph, names);
    if (result.unknown.length) {
      throw badRequest("unknown_components", `not in the catalog: ${result.unknown.join(", ")}`, { components: result.unknown });
    }
    return topologicalSort(new Map([...graph].filter(([name]) => result.names.has(name))));
  }

  /** The catalog artifact entry a file belongs to (first pattern matching kind and file name). */
  artifactEntry(component: string, artifact: { filename: string; kind: string }) {
    return this.get(component)?.artifacts.find((entry) => entry.kind === (artifact.kind as ArtifactKind) && matchesGlob(artifact.filename, entry.pattern));
  }
}
