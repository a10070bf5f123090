/**
 * The site's variables file (`--vars FILE`, YAML or JSON), secrets included; keep it
 * readable by the agent's user only. Shape:
 *
 *   vars:                 # every component
 *     INSTALL_ROOT: /opt/ferry
 *   components:           # per component, over `vars`
 *     orders-api:
 *       ORDERS_DB_PASSWORD: s3cret
 *   site:                 # extra `${{ site.X }}` values (registry, namespace, …)
 *     registry: registry.local:5000
 *
 * Values declared `secret: true` in a component's descriptor are masked in every log line
 * and in the report.
 */
import { readFile } from "node:fs/promises";
import { load } from "js-yaml";

type Value = string | number | boolean;

export interface VarsFile {
  vars: Record<string, Value>;
  components: Record<string, Record<string, Value>>;
  site: Record<string, Value>;
}

export const NO_VARS: VarsFile = { vars: {}, components: {}, site: {} };

const isRecord = (value: unknown): value is Record<string, unknown> => Boolean(value) && typeof value === "object" && !Array.isArray(value);

function scalars(value: unknown, where: string): Record<string, Value> {
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new Error(`${where} must be a mapping of names to values`);
  for (const [key, item] of Object.entries(value)) {
    if (!["string", "number", "boolean"].includes(typeof item)) throw new Error(`${where}.${key} must be a string, number or boolean`);
  }
  return value as Record<string, Value>;
}

export async function readVarsFile(file: string | undefined): Promise<VarsFile> {
  if (!file) return NO_VARS;
  const parsed = load(await readFile(file, "utf8"));
  if (!isRecord(parsed)) throw new Error(`${file}: expected a mapping with vars, components and site`);
  const unknown = Object.keys(parsed).filter((key) => !["vars", "components", "site"].includes(key));
  if (unknown.length) throw new Error(`${file}: unknown key(s) ${unknown.join(", ")}; expected vars, components, site`);
  const components: VarsFile["components"] = {};
  if (parsed.components !== undefined) {
    if (!isRecord(parsed.components)) throw new Error(`${file}: components must map component names to variables`);
    for (const [name, values] of Object.entries(parsed.components)) components[name] = scalars(values, `${file}: components.${name}`);
  }
  return { vars: scalars(parsed.vars, `${file}: vars`), components, site: scalars(parsed.site, `${file}: site`) };
}
