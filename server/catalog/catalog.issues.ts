/**
 * Turning zod issues and template expressions into catalog problems that name a line.
 */
import type { z } from "zod";
import type { YamlPath, YamlSource } from "./yaml-source.js";

export type Report = (line: number, message: string) => void;

export function formatPath(path: YamlPath): string {
  return path.reduce<string>((out, part) => (typeof part === "number" ? `${out}[${part}]` : out ? `${out}.${part}` : part), "");
}

const at = (path: YamlPath) => (path.length ? `${formatPath(path)}: ` : "");

/** Validates `value` (found at `base` inside `source`) and reports every issue with its line. */
export function validateAt<S extends z.ZodType>(schema: S, value: unknown, source: YamlSource, base: YamlPath, report: Report): z.output<S> | undefined {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    const path = [...base, ...issue.path.map((part) => (typeof part === "symbol" ? String(part) : part))];
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) report(source.lineOfKey(path, key), `${at(path)}unknown key "${key}"`);
    } else if (issue.path.length > 0 && !hasPath(value, issue.path)) {
      const parent = path.slice(0, -1);
      report(source.lineOf(parent), `${at(parent)}missing required field "${String(path.at(-1))}"`);
    } else if (issue.code === "invalid_union" && issue.discriminator && "options" in issue && issue.options) {
      const parent = path.slice(0, -1);
      const given = (issue.input as Record<string, unknown> | undefined)?.[issue.discriminator];
      if (given === undefined) report(source.lineOf(parent), `${at(parent)}missing required field "${issue.discriminator}"`);
      else report(source.lineOf(path), `${at(path)}"${String(given)}" is not one of ${issue.options.join(", ")}`);
    } else {
      report(source.lineOf(path), `${at(path)}${issue.message}`);
    }
  }
  return undefined;
}

/** Whether the key at the end of `path` is present in `value` (so "missing" can be told from "wrong"). */
function hasPath(value: unknown, path: readonly PropertyKey[]): boolean {
  let current = value;
  for (const part of path) {
    if (!current || typeof current !== "object" || !Object.hasOwn(current, part as string)) return false;
    current = (current as Record<string, unknown>)[part as string];
  }
  return true;
}

/** Calls `visit` for every string inside `value`, with its path. */
export function walkStrings(value: unknown, path: YamlPath, visit: (text: string, path: YamlPath) => void): void {
  if (typeof value === "string") visit(value, path);
  else if (Array.isArray(value)) value.forEach((item, index) => walkStrings(item, [...path, index], visit));
  else if (value && typeof value === "object") for (const [key, item] of Object.entries(value)) walkStrings(item, [...path, key], visit);
}

/** `${{ root.name }}` expressions; the agent resolves them at the site, templates' `params` at load time. */
export const EXPRESSION = /\$\{\{\s*([^}]*?)\s*\}\}/g;
export const EXPRESSION_ROOTS = ["params", "vars", "component", "site", "release", "image"] as const;
const REFERENCE = /^([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)$/;

export function expressionsIn(text: string): Array<{ root: string; name: string } | { invalid: string }> {
  return [...text.matchAll(EXPRESSION)].map((match) => {
    const reference = REFERENCE.exec(match[1]!);
    if (!reference || !(EXPRESSION_ROOTS as readonly string[]).includes(reference[1]!)) return { invalid: match[0] };
    return { root: reference[1]!, name: reference[2]! };
  });
}

/** Replaces `${{ params.x }}`; a string that is exactly one expression takes the parameter's type. */
export function substituteParams(value: unknown, params: Record<string, string | number | boolean>): unknown {
  if (typeof value === "string") {
    const whole = /^\$\{\{\s*params\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$/.exec(value);
    if (whole && whole[1]! in params) return params[whole[1]!];
    return value.replace(EXPRESSION, (match, inner: string) => {
      const reference = REFERENCE.exec(inner);
      return reference && reference[1] === "params" && reference[2]! in params ? String(params[reference[2]!]) : match;
    });
  }
  if (Array.isArray(value)) return value.map((item) => substituteParams(item, params));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, substituteParams(item, params)]));
  }
  return value;
}
