/**
 * What an apply will do, worked out before anything is touched: per component its action,
 * descriptor (service.yml + pipelines.json from the bundle, or the installed copy for a
 * removal), variables, artifacts resolved to files, and every step rendered. Any problem
 * (a missing required variable, an unresolved `${{ … }}`, an artifact the bundle lacks)
 * fails the plan, so a bundle that cannot apply never starts.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { load } from "js-yaml";
import { renderDeep, type Scope } from "./expressions.js";
import { componentsInOrder, type BundleManifest, type ManifestArtifact, type ManifestComponent } from "./manifest.js";
import type { AgentState, WorkDir } from "./state.js";
import { LATE_FIELDS } from "./steps/index.js";
import { STEP_TYPES, type ResolvedArtifact, type SimpleStep, type Step } from "./steps/types.js";
import type { VarsFile } from "./vars.js";

export interface Descriptor {
  name: string;
  artifacts: Array<{ name: string; kind: string; pattern: string }>;
  sql: Array<{ database: string; dialect: string }>;
  variables: Record<string, { default?: string | number | boolean; required?: boolean; secret?: boolean }>;
  pipelines: Partial<Record<string, Step[]>>;
}

export interface PlannedStep {
  pipeline: string;
  index: number;
  name: string;
  step: SimpleStep;
  rollback: SimpleStep | null;
}

export interface ComponentPlan {
  component: ManifestComponent;
  /** Where the descriptor is read from: the bundle's catalog/<name>/ or the installed copy. */
  sourceDir: string | null;
  descriptor: Descriptor | null;
  vars: Record<string, string>;
  secrets: string[];
  scope: Scope;
  artifacts: ResolvedArtifact[];
  steps: PlannedStep[];
}

export class PlanError extends Error {
  readonly code = "plan_failed";
}

export async function readDescriptor(dir: string): Promise<Descriptor> {
  const service = load(await readFile(path.join(dir, "service.yml"), "utf8")) as Record<string, unknown>;
  const pipelines = JSON.parse(await readFile(path.join(dir, "pipelines.json"), "utf8")) as Descriptor["pipelines"];
  for (const [pipeline, steps] of Object.entries(pipelines)) {
    for (const step of steps ?? []) {
      for (const candidate of step.rollback ? [step, step.rollback] : [step]) {
        if (!STEP_TYPES.includes(candidate.type)) throw new PlanError(`${dir}/pipelines.json: ${pipeline} has a step of unknown type ${JSON.stringify(candidate.type)}`);
      }
    }
  }
  return {
    name: String(service.name),
    artifacts: (service.artifacts as Descriptor["artifacts"]) ?? [],
    sql: (service.sql as Descriptor["sql"]) ?? [],
    variables: (service.variables as Descriptor["variables"]) ?? {},
    pipelines,
  };
}

export function globToRegExp(pattern: string): RegExp {
  let out = "";
  let inGroup = false;
  for (const char of pattern) {
    if (char === "*") out += "[^/]*";
    else if (char === "?") out += "[^/]";
    else if (char === "{" && !inGroup) [inGroup, out] = [true, `${out}(?:`];
    else if (char === "}" && inGroup) [inGroup, out] = [false, `${out})`];
    else if (char === "," && inGroup) out += "|";
    else out += char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${out}${inGroup ? "\\{" : ""}$`);
}

/** The pipelines an action runs: upgrade falls back to install; remove runs stop (then the agent deletes the files). */
function pipelinesFor(action: ManifestComponent["action"], descriptor: Descriptor): string[] {
  if (action === "install") return ["install"];
  if (action === "upgrade") return [descriptor.pipelines.upgrade ? "upgrade" : "install"];
  if (action === "remove") return descriptor.pipelines.stop ? ["stop"] : [];
  return [];
}

export async function planApply(input: { manifest: BundleManifest; bundleDir: string; workdir: WorkDir; state: AgentState; vars: VarsFile }): Promise<ComponentPlan[]> {
  const { manifest, bundleDir, workdir, state, vars } = input;
  const plans: ComponentPlan[] = [];
  const platform = manifest.site.platform;
  for (const component of componentsInOrder(manifest)) {
    const base: ComponentPlan = { component, sourceDir: null, descriptor: null, vars: {}, secrets: [], scope: {}, artifacts: [], steps: [] };
    if (component.action === "unchanged") {
      plans.push(base);
      continue;
    }
    const sourceDir = component.action === "remove" ? workdir.componentDir(component.name) : path.join(bundleDir, "catalog", component.name);
    const descriptor = await readDescriptor(sourceDir).catch((error: Error) => {
      if (component.action === "remove") return null;
      throw new PlanError(`${component.name}: cannot read its descriptor from the bundle: ${error.message}`);
    });
    const { values, secrets, missing } = componentVars(component.name, descriptor, vars);
    if (missing.length && component.action !== "remove") throw new PlanError(`${component.name}: required variable(s) without a value: ${missing.join(", ")} (set them in the vars file)`);
    const scope: Scope = {
      vars: values,
      component: { name: component.name, version: component.version, fromVersion: component.fromVersion ?? "", dir: workdir.componentDir(component.name) },
      site: { ...manifest.site, ...vars.site },
      release: { product: manifest.release.product, version: manifest.release.version, digest: manifest.release.digest },
    };
    const artifacts = descriptor ? resolveArtifacts(component, descriptor, manifest, bundleDir, workdir, state) : [];
    const steps: PlannedStep[] = [];
    for (const pipeline of descriptor ? pipelinesFor(component.action, descriptor) : []) {
      (descriptor!.pipelines[pipeline] ?? []).forEach((raw, index) => {
        if (raw.platforms && !raw.platforms.includes(platform)) return;
        const where = `${component.name} ${pipeline}[${index}]`;
        const { rollback, ...step } = raw;
        const rendered = renderStep(step as SimpleStep, scope, where);
        const renderedRollback = rollback && (!rollback.platforms || rollback.platforms.includes(platform)) ? renderStep(rollback, scope, `${where}.rollback`) : null;
        steps.push({ pipeline, index, name: rendered.name ?? `${rendered.type} ${index + 1}`, step: rendered, rollback: renderedRollback });
      });
    }
    for (const { step } of steps) {
      if ("artifact" in step && !artifacts.some((a) => a.name === step.artifact)) {
        throw new PlanError(`${component.name}: step needs artifact "${step.artifact}", which neither the bundle nor the site holds for ${component.name} ${component.version}`);
      }
    }
    plans.push({ component, sourceDir, descriptor, vars: values, secrets, scope, artifacts, steps });
  }
  return plans;
}

function renderStep(step: SimpleStep, scope: Scope, where: string): SimpleStep {
  const late = LATE_FIELDS[step.type] ?? [];
  const kept = Object.fromEntries(late.filter((field) => field in step).map((field) => [field, (step as unknown as Record<string, unknown>)[field]]));
  return { ...renderDeep(step, scope, where), ...kept };
}

function componentVars(name: string, descriptor: Descriptor | null, vars: VarsFile) {
  const values: Record<string, string> = {};
  const declared = descriptor?.variables ?? {};
  for (const [key, variable] of Object.entries(declared)) if (variable.default !== undefined) values[key] = String(variable.default);
  for (const [key, value] of Object.entries({ ...vars.vars, ...(vars.components[name] ?? {}) })) values[key] = String(value);
  const missing = Object.entries(declared)
    .filter(([key, variable]) => variable.required && values[key] === undefined)
    .map(([key]) => key);
  const secrets = Object.entries(declared)
    .filter(([key, variable]) => variable.secret && values[key] !== undefined)
    .map(([key]) => values[key]!);
  return { values, secrets, missing };
}

/** The component version's artifacts: carried by the bundle, or (incremental) already in the site's blob store. */
function resolveArtifacts(component: ManifestComponent, descriptor: Descriptor, manifest: BundleManifest, bundleDir: string, workdir: WorkDir, state: AgentState): ResolvedArtifact[] {
  const mine = (a: ManifestArtifact) => a.component === component.name && a.version === component.version;
  const candidates: Array<ManifestArtifact & { file: string }> = [
    ...manifest.artifacts.filter(mine).map((a) => ({ ...a, file: path.join(bundleDir, a.path!) })),
    ...(manifest.expects?.artifacts ?? []).filter(mine).map((a) => ({ ...a, file: workdir.blob(a.sha256) })),
  ];
  if (component.action === "remove") {
    const installed = state.components[component.name];
    for (const a of installed?.artifacts ?? []) candidates.push({ ...a, component: component.name, file: workdir.blob(a.sha256) });
  }
  const resolved: ResolvedArtifact[] = [];
  for (const entry of descriptor.artifacts) {
    const pattern = globToRegExp(entry.pattern);
    const matches = candidates.filter((c) => pattern.test(c.filename)).sort((a, b) => (a.filename < b.filename ? -1 : 1));
    if (matches.length > 1) throw new PlanError(`${component.name}: artifact "${entry.name}" (${entry.pattern}) matches ${matches.map((m) => m.filename).join(", ")}; expected one`);
    const match = matches[0];
    if (match) resolved.push({ name: entry.name, filename: match.filename, version: match.version, kind: match.kind, sha256: match.sha256, file: match.file });
  }
  return resolved;
}

/** Every artifact of the component version, for the inventory (catalog names aside). */
export function componentArtifacts(component: ManifestComponent, manifest: BundleManifest): ManifestArtifact[] {
  const mine = (a: ManifestArtifact) => a.component === component.name && a.version === component.version;
  return [...manifest.artifacts.filter(mine), ...(manifest.expects?.artifacts ?? []).filter(mine)];
}
