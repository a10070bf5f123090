/**
 * Pipeline templates: `pipelines/<name>.yml`, reusable steps that service descriptors
 * include with `- include: <name>` and `with:` parameters.
 */
import { constants } from "node:fs";
import { open, readdir } from "node:fs/promises";
import path from "node:path";
import { PipelineTemplate, Step } from "./catalog.schema.js";
import { expressionsIn, substituteParams, validateAt, walkStrings, type Report } from "./catalog.issues.js";
import type { PipelineTemplateFile } from "./catalog.types.js";
import { parseYamlSource, YamlSyntaxError, type YamlSource } from "./yaml-source.js";

const TEMPLATE_FILE = /^([a-z][a-z0-9-]{0,62})\.yml$/;

/**
 * Descriptors, templates and config templates are a few kilobytes. A catalog file over
 * this is a mistake or an attack (a YAML bomb, a huge generated document), and is refused
 * before it is read into memory.
 */
export const MAX_CATALOG_FILE_BYTES = 1024 * 1024;

/**
 * Reads a catalog file as UTF-8, only if it is a regular file of at most
 * MAX_CATALOG_FILE_BYTES: a FIFO or device (say a symlink to /dev/zero) would block the
 * reload forever or fill memory. Opened non-blocking, so a FIFO does not hang the open.
 */
export async function readCatalogFile(file: string): Promise<{ text: string } | { problem: string }> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
    const info = await handle.stat();
    if (!info.isFile()) return { problem: "is not a regular file" };
    if (info.size > MAX_CATALOG_FILE_BYTES) return { problem: `is ${info.size} bytes; catalog files are limited to ${MAX_CATALOG_FILE_BYTES} bytes` };
    const buffer = Buffer.alloc(MAX_CATALOG_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_CATALOG_FILE_BYTES) return { problem: `grew past ${MAX_CATALOG_FILE_BYTES} bytes while being read` };
    }
    return { text: buffer.subarray(0, length).toString("utf8") };
  } catch (error) {
    return { problem: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  } finally {
    await handle?.close().catch(() => {});
  }
}

/** Reads and parses a YAML file, reporting syntax errors; undefined when it cannot be used. */
export async function readYamlFile(file: string, report: Report): Promise<YamlSource | undefined> {
  const read = await readCatalogFile(file);
  if ("problem" in read) {
    report(0, read.problem);
    return undefined;
  }
  const { text } = read;
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
