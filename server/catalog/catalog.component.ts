/**
 * Loading one component: `service.yml` validated, pipelines expanded (includes resolved
 * against the templates), then the checks that need the whole descriptor: artifact,
 * database, config and variable references, platforms, files on disk.
 */
import { stat } from "node:fs/promises";
import path from "node:path";
import { IncludeStep, PIPELINE_NAMES, ServiceDescriptor, Step, type PipelineName, type ServiceDescriptor as Descriptor } from "./catalog.schema.js";
import { expressionsIn, formatPath, substituteParams, validateAt, walkStrings, type Report } from "./catalog.issues.js";
import type { CatalogComponent, LoadedStep, PipelineTemplateFile } from "./catalog.types.js";
import type { YamlSource } from "./yaml-source.js";
import { readCatalogFile } from "./catalog.templates.js";

export interface LoadedComponent {
  /** Set only when the component has no problem at all. */
  component?: CatalogComponent;
  /** The declared dependencies, known whenever the descriptor itself validated. */
  dependsOn?: string[];
  source: YamlSource;
}

const isObject = (value: unknown): value is Record<string, unknown> => Boolean(value) && typeof value === "object" && !Array.isArray(value);

export async function loadComponent(input: {
  name: string;
  dir: string;
  file: string;
  source: YamlSource;
  templates: ReadonlyMap<string, PipelineTemplateFile>;
  report: Report;
  /** Reports a problem in another file of the component (a config template). */
  reportIn: (file: string) => Report;
}): Promise<LoadedComponent> {
  const { source, report } = input;
  const descriptor = validateAt(ServiceDescriptor, source.value, source, [], report);
  // Steps are validated even when the rest of the descriptor is not, so one reload lists every problem.
  const rawPipelines = isObject(source.value) && isObject(source.value.pipelines) ? source.value.pipelines : {};
  const expanded = expandPipelines(rawPipelines, source, input.templates, report);
  if (!descriptor) return { source };

  let valid = expanded.valid;
  const fail: Report = (line, message) => {
    valid = false;
    report(line, message);
  };
  if (descriptor.name !== input.name) fail(source.lineOf(["name"]), `name "${descriptor.name}" must match its folder "${input.name}"`);
  checkDescriptor(descriptor, source, fail);
  await checkFiles(descriptor, input.dir, source, fail, (file) => (line, message) => {
    valid = false;
    input.reportIn(file)(line, message);
  });
  checkSteps(descriptor, expanded.steps, fail);
  if (!valid) return { dependsOn: descriptor.dependsOn, source };

  const { apiVersion: _apiVersion, pipelines: _raw, ...rest } = descriptor;
  const pipelines: Partial<Record<PipelineName, Step[]>> = {};
  const targets = new Map(descriptor.config.map((config) => [config.source, config]));
  // A template step without `to` (or mode) renders to the target its config entry declares.
  const withTarget = (step: Step): Step =>
    step.type === "template" ? { ...step, to: step.to ?? targets.get(step.source)!.target, mode: step.mode ?? targets.get(step.source)!.mode } : step;
  for (const [pipeline, steps] of expanded.steps) {
    pipelines[pipeline] = steps.map(({ step }) => ({ ...withTarget(step), ...(step.rollback ? { rollback: withTarget(step.rollback) } : {}) }) as Step);
  }
  return { component: { ...rest, pipelines, includes: [...expanded.includes].sort(), file: input.file, dir: input.dir }, dependsOn: descriptor.dependsOn, source };
}

function expandPipelines(
  raw: Record<string, unknown>,
  source: YamlSource,
  templates: ReadonlyMap<string, PipelineTemplateFile>,
  report: Report,
): { steps: Map<PipelineName, LoadedStep[]>; includes: Set<string>; valid: boolean } {
  const steps = new Map<PipelineName, LoadedStep[]>();
  const includes = new Set<string>();
  let valid = true;
  for (const pipeline of PIPELINE_NAMES) {
    const entries = raw[pipeline];
    if (!Array.isArray(entries)) continue;
    const loaded: LoadedStep[] = [];
    entries.forEach((entry, index) => {
      const at = ["pipelines", pipeline, index];
      if (!(isObject(entry) && "include" in entry)) {
        const step = validateAt(Step, entry, source, at, report);
        if (step) loaded.push({ step, origin: { line: source.lineOf(at) } });
        else valid = false;
        return;
      }
      const include = validateAt(IncludeStep, entry, source, at, report);
      if (!include) return void (valid = false);
      const line = source.lineOf([...at, "include"]);
      const template = templates.get(include.include);
      if (!template) {
        report(line, `${formatPath(at)}: pipeline template "${include.include}" not found (or invalid) in pipelines/`);
        return void (valid = false);
      }
      includes.add(template.name);
      const given = include.with ?? {};
      for (const key of Object.keys(given)) {
        if (!(key in template.params)) {
          report(source.lineOfKey([...at, "with"], key), `${formatPath(at)}: template "${template.name}" has no parameter "${key}"`);
          valid = false;
        }
      }
      const values: Record<string, string | number | boolean> = {};
      for (const [name, param] of Object.entries(template.params)) {
        const value = given[name] ?? param.default;
        if (value === undefined) {
          report(line, `${formatPath(at)}: template "${template.name}" needs parameter "${name}" (with: { ${name}: … })`);
          valid = false;
        } else values[name] = value;
      }
      for (const templateStep of template.steps) {
        const where = { name: template.name, file: template.file, line: templateStep.line };
        const result = Step.safeParse(substituteParams(templateStep.raw, values));
        if (!result.success) {
          const reasons = result.error.issues.map((issue) => `${formatPath(issue.path as Array<string | number>)} ${issue.message}`).join("; ");
          report(line, `${formatPath(at)}: step from ${where.file}:${where.line} is invalid with these parameters: ${reasons}`);
          valid = false;
        } else loaded.push({ step: result.data, origin: { line, template: where } });
      }
    });
    steps.set(pipeline, loaded);
  }
  return { steps, includes, valid };
}

function checkDescriptor(descriptor: Descriptor, source: YamlSource, fail: Report): void {
  descriptor.dependsOn.forEach((dep, index) => {
    if (dep === descriptor.name) fail(source.lineOf(["dependsOn", index]), `dependsOn[${index}]: a component cannot depend on itself`);
    else if (descriptor.dependsOn.indexOf(dep) !== index) fail(source.lineOf(["dependsOn", index]), `dependsOn[${index}]: "${dep}" is listed twice`);
  });
  const unique = (list: string[], field: string, what: string) =>
    list.forEach((value, index) => {
      if (list.indexOf(value) !== index) fail(source.lineOf([field, index]), `${field}[${index}]: ${what} "${value}" is declared twice`);
    });
  unique(descriptor.artifacts.map((a) => a.name), "artifacts", "artifact");
  unique(descriptor.sql.map((s) => s.database), "sql", "database");
  unique(descriptor.ports.map((p) => p.name), "ports", "port");
  unique(descriptor.config.map((c) => c.source), "config", "config template");
  descriptor.sql.forEach((database, index) => {
    if (database.server && !descriptor.dependsOn.includes(database.server)) {
      fail(source.lineOf(["sql", index, "server"]), `sql[${index}].server: "${database.server}" must also be listed in dependsOn`);
    }
  });
  descriptor.config.forEach((config, index) => checkExpressions(config.target, descriptor, source.lineOf(["config", index, "target"]), `config[${index}].target`, fail));
}

async function checkFiles(descriptor: Descriptor, dir: string, source: YamlSource, fail: Report, failIn: (file: string) => Report): Promise<void> {
  const exists = async (file: string, kind: "file" | "dir") => {
    const info = await stat(path.join(dir, file)).catch(() => undefined);
    return kind === "file" ? Boolean(info?.isFile()) : Boolean(info?.isDirectory());
  };
  for (const [index, config] of descriptor.config.entries()) {
    if (config.source.split("/").includes("..")) fail(source.lineOf(["config", index, "source"]), `config[${index}].source: must stay inside the component folder`);
    else if (!(await exists(config.source, "file"))) fail(source.lineOf(["config", index, "source"]), `config[${index}].source: ${config.source} does not exist`);
    else {
      // A template referring to an undeclared variable would only fail at the site, mid-deployment.
      const file = path.join(dir, config.source);
      const read = await readCatalogFile(file);
      if ("problem" in read) fail(source.lineOf(["config", index, "source"]), `config[${index}].source: ${config.source} ${read.problem}`);
      else read.text.split("\n").forEach((text, lineIndex) => checkExpressions(text, descriptor, lineIndex + 1, config.source, failIn(file)));
    }
  }
  if (descriptor.chart !== undefined) {
    if (!(await exists(descriptor.chart, "dir"))) fail(source.lineOf(["chart"]), `chart: folder ${descriptor.chart}/ does not exist`);
    else if (!(await exists(path.join(descriptor.chart, "Chart.yaml"), "file"))) fail(source.lineOf(["chart"]), `chart: ${descriptor.chart}/Chart.yaml is missing`);
  }
}

function checkSteps(descriptor: Descriptor, pipelines: Map<PipelineName, LoadedStep[]>, fail: Report): void {
  const artifacts = new Set(descriptor.artifacts.map((a) => a.name));
  const databases = new Set(descriptor.sql.map((s) => s.database));
  const configs = new Set(descriptor.config.map((c) => c.source));
  for (const [pipeline, steps] of pipelines) {
    for (const { step, origin } of steps) {
      const from = origin.template ? ` (step from ${origin.template.file}:${origin.template.line})` : "";
      const where = `pipelines.${pipeline}${from}`;
      for (const candidate of step.rollback ? [step, step.rollback] : [step]) {
        if ("artifact" in candidate && !artifacts.has(candidate.artifact)) fail(origin.line, `${where}: artifact "${candidate.artifact}" is not declared under artifacts`);
        if (candidate.type === "sql" && !databases.has(candidate.database)) fail(origin.line, `${where}: database "${candidate.database}" is not declared under sql`);
        if (candidate.type === "template" && !configs.has(candidate.source)) fail(origin.line, `${where}: ${candidate.source} is not declared under config`);
        for (const platform of candidate.platforms ?? []) {
          if (!descriptor.platforms.includes(platform)) fail(origin.line, `${where}: platform "${platform}" is not one of the service's platforms`);
        }
      }
      walkStrings(step, [], (text, at) => checkExpressions(text, descriptor, origin.line, `${where} ${formatPath(at)}`, fail));
    }
  }
}

function checkExpressions(text: string, descriptor: Descriptor, line: number, where: string, fail: Report): void {
  for (const expression of expressionsIn(text)) {
    if ("invalid" in expression) fail(line, `${where}: ${expression.invalid} is not a known expression (vars.X, component.X, site.X, release.X, image.X)`);
    else if (expression.root === "params") fail(line, `${where}: \${{ params.${expression.name} }} is only available inside pipeline templates`);
    else if (expression.root === "vars" && !(expression.name in descriptor.variables)) {
      fail(line, `${where}: variable "${expression.name}" is not declared under variables`);
    }
  }
}
