import type { PipelineName, ServiceDescriptor, Step } from "./catalog.schema.js";

/** One validation problem, pointing at a file (relative to the catalog's parent folder) and a 1-based line. */
export interface CatalogProblem {
  file: string;
  line: number;
  message: string;
}

/** Where an expanded step came from, so later checks can point at the right line. */
export interface StepOrigin {
  /** Line of the step, or of the `include` that brought it in, in service.yml. */
  line: number;
  /** Set when the step was expanded from a pipeline template. */
  template?: { name: string; file: string; line: number };
}

export interface LoadedStep {
  step: Step;
  origin: StepOrigin;
}

export interface CatalogComponent extends Omit<ServiceDescriptor, "pipelines" | "apiVersion"> {
  /** Pipelines with includes expanded. */
  pipelines: Partial<Record<PipelineName, Step[]>>;
  /** Pipeline templates this component includes, by name. */
  includes: string[];
  /** service.yml, relative to the catalog's parent folder. */
  file: string;
  /** Absolute folder of the component (config templates, chart). */
  dir: string;
}

export interface PipelineTemplateFile {
  name: string;
  file: string;
  description: string;
  params: Record<string, { description?: string; default?: string | number | boolean }>;
  /** Validated steps, parameters not yet substituted, with their lines in the template file. */
  steps: Array<{ raw: unknown; line: number }>;
}

export interface Catalog {
  components: ReadonlyMap<string, CatalogComponent>;
  templates: ReadonlyMap<string, PipelineTemplateFile>;
  /** Dependency order of every component. */
  order: readonly string[];
  loadedAt: Date;
}
