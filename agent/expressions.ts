/**
 * `${{ root.name }}` expressions in steps and config templates, resolved at the site:
 * `vars` (site variables and secrets), `component` (name, version, fromVersion, dir),
 * `site` (id, name, customer, environment, platform and any extra from the vars file),
 * `release` (product, version, digest) and, inside image-load, `image`. A reference that
 * cannot be resolved is an error naming it and where it was used: a config file with an
 * empty password in it is worse than a failed step.
 */
export type Scope = Record<string, Record<string, string | number | boolean | null | undefined>>;

const EXPRESSION = /\$\{\{\s*([^}]*?)\s*\}\}/g;
const REFERENCE = /^([a-z]+)\.([A-Za-z_][A-Za-z0-9_]*)$/;

export class ExpressionError extends Error {
  readonly code = "unresolved_expression";
}

export function renderString(text: string, scope: Scope, where: string): string {
  return text.replace(EXPRESSION, (match, inner: string) => {
    const reference = REFERENCE.exec(inner);
    if (!reference) throw new ExpressionError(`${where}: ${match} is not an expression the agent understands (root.name)`);
    const [, root, name] = reference as unknown as [string, string, string];
    const values = scope[root];
    if (!values) throw new ExpressionError(`${where}: ${match}: "${root}" is not available here (known: ${Object.keys(scope).join(", ")})`);
    const value = values[name];
    if (value === undefined || value === null) {
      const hint = root === "vars" ? "; set it in the vars file" : "";
      throw new ExpressionError(`${where}: ${match} has no value${hint}`);
    }
    return String(value);
  });
}

/** Renders every string inside a step (keys are left alone). */
export function renderDeep<T>(value: T, scope: Scope, where: string): T {
  if (typeof value === "string") return renderString(value, scope, where) as T;
  if (Array.isArray(value)) return value.map((item, index) => renderDeep(item, scope, `${where}[${index}]`)) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderDeep(item, scope, `${where}.${key}`)])) as T;
  }
  return value;
}

/** Renders a config template, naming the line of an unresolved expression. */
export function renderTemplate(text: string, scope: Scope, file: string): string {
  return text
    .split("\n")
    .map((line, index) => renderString(line, scope, `${file}:${index + 1}`))
    .join("\n");
}
