/**
 * Pipeline templates: `pipelines/<name>.yml`, reusable steps that service descriptors
 * include with `- include: <name>` and `with:` parameters.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { PipelineTemplate, Step } from "./catalog.schema.js";
import { expressionsIn, substituteParams, validateAt, walkStrings, type Report } from "./catalog.issues.js";
import type { PipelineTemplateFile } from "./catalog.types.js";
import { parseYamlSource, YamlSyntaxError, type YamlSource } from "./yaml-source.js";

const TEMPLATE_FILE = /^([a-z][a-z0-9-]{0,62})\.yml$/;

/** Reads and parses a YAML file, reporting syntax errors; undefined when it cannot be used. */
export async function readYamlFile(file: string, report: Report): Promise<YamlSource | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    report(0, `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return undefined;
  }
  try {
    return parseYamlSource(text, path.basename(file));
  } catch (error) {
    if (error instanceof YamlSyntaxError) {
      report(error.line, `YAML syntax: ${error.message}`);
      return undefined;
    }
    throw error;
  }
}

/** Loads every template of `dir` (a missing folder means no templates). */
export async function loadTemplates(
  dir: string,
  reportIn: (file: string) => Report,
  relative: (file: string) => string,
): Promise<Map<string, PipelineTemplateFile>> {
  const templates = new Map<string, PipelineTemplateFile>();
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return templates;
    throw error;
  }
  for (const fileName of names) {
    const file = path.join(dir, fileName);
    const report = reportIn(file);
    if (fileName.startsWith(".")) continue;
    const match = TEMPLATE_FILE.exec(fileName);
    if (!match) {
      if (/\.ya?ml$/.test(fileName)) report(0, "a pipeline template is named <lowercase-name>.yml");
      continue;
    }
    const source = await readYamlFile(file, report);
    if (!source) continue;
    const template = validateAt(PipelineTemplate, source.value, source, [], report);
    if (!template) continue;
    const loaded: PipelineTemplateFile = { name: match[1]!, file: relative(file), description: template.description, params: template.params, steps: [] };
    const defaults = Object.fromEntries(
      Object.entries(template.params).flatMap(([name, param]) => (param.default === undefined ? [] : [[name, param.default] as const])),
    );
    let valid = true;
    template.steps.forEach((raw, index) => {
      const stepPath = ["steps", index];
      if (raw && typeof raw === "object" && "include" in raw) {
        report(source.lineOf(stepPath), `steps[${index}]: a template cannot include another template`);
        valid = false;
        return;
      }
      walkStrings(raw, stepPath, (text, at) => {
        for (const expression of expressionsIn(text)) {
          if ("root" in expression && expression.root === "params" && !(expression.name in template.params)) {
            report(source.lineOf(at), `undeclared parameter params.${expression.name}; declare it under params`);
            valid = false;
          }
        }
      });
      // Parameters with defaults are checked with their defaults now; the others again once included.
      if (!validateAt(Step, substituteParams(raw, defaults), source, stepPath, report)) valid = false;
      loaded.steps.push({ raw, line: source.lineOf(stepPath) });
    });
    if (valid) templates.set(loaded.name, loaded);
  }
  return templates;
}
