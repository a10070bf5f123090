/**
 * Reads a route's zod schema to make bad input for it: a valid sample body (never sent)
 * whose fields are then broken one at a time, each result checked to be invalid by the
 * schema itself before it is sent. Knows zod 4's definition objects (`_zod.def`).
 */
import type { z } from "zod";

type Def = { type: string; [key: string]: any };
const defOf = (schema: z.ZodType): Def => (schema as unknown as { _zod: { def: Def } })._zod.def;

const STRING_CANDIDATES = [
  "abc",
  "orders",
  "2.4.0",
  "00000000-0000-4000-8000-000000000000",
  "a".repeat(64),
  "http://127.0.0.1:9/hook",
  "2024-01-01T00:00:00Z",
  "password-1234",
  "secret-secret-secret",
  "config/app.conf.tpl",
  "x",
  "A",
];
const NUMBER_CANDIDATES = [1, 0, 22, 100, 1024 * 1024, 2 * 1024 * 1024];

function ok(schema: z.ZodType, value: unknown): boolean {
  return schema.safeParse(value).success;
}

/** A value `schema` accepts, or undefined when none of the candidates fits. */
export function sample(schema: z.ZodType, depth = 0): unknown {
  if (depth > 8) return undefined;
  const def = defOf(schema);
  const pick = (candidates: unknown[]) => candidates.find((candidate) => ok(schema, candidate));
  switch (def.type) {
    case "string":
      return pick(STRING_CANDIDATES);
    case "number":
    case "int":
      return pick(NUMBER_CANDIDATES);
    case "boolean":
      return true;
    case "enum":
      return Object.values(def.entries as Record<string, unknown>)[0];
    case "literal":
      return (def.values as unknown[])[0];
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "catch":
    case "readonly":
      return sample(def.innerType as z.ZodType, depth + 1);
    case "pipe":
      return sample(def.in as z.ZodType, depth + 1);
    case "union": {
      for (const option of def.options as z.ZodType[]) {
        const value = sample(option, depth + 1);
        if (value !== undefined && ok(schema, value)) return value;
      }
      return undefined;
    }
    case "array": {
      const element = sample(def.element as z.ZodType, depth + 1);
      return pick([element === undefined ? [] : [element], []]);
    }
    case "record":
      return pick([{}]);
    case "object": {
      const shape = def.shape as Record<string, z.ZodType>;
      const full: Record<string, unknown> = {};
      const required: Record<string, unknown> = {};
      for (const [key, field] of Object.entries(shape)) {
        const value = sample(field, depth + 1);
        if (value === undefined) continue;
        full[key] = value;
        if (!ok(field, undefined)) required[key] = value;
      }
      return pick([full, required]);
    }
    case "unknown":
    case "any":
      return {};
    default:
      return undefined;
  }
}

/** The schema after optional/default/pipe wrappers, as a field of an object sees it. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current = schema;
  for (let i = 0; i < 10; i++) {
    const def = defOf(current);
    if (["optional", "nullable", "default", "prefault", "catch", "readonly"].includes(def.type)) current = def.innerType;
    else if (def.type === "pipe") current = def.in;
    else return current;
  }
  return current;
}

export interface FieldPath {
  path: Array<string | number>;
  schema: z.ZodType;
}

/** Every field of `value` that the object schema declares, nested objects and first array elements included. */
export function fieldsOf(schema: z.ZodType, value: unknown, prefix: Array<string | number> = [], depth = 0): FieldPath[] {
  if (depth > 5) return [];
  const def = defOf(unwrap(schema));
  const out: FieldPath[] = [];
  if (def.type === "object" && value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
      const path = [...prefix, key];
      out.push({ path, schema: field });
      out.push(...fieldsOf(field, (value as Record<string, unknown>)[key], path, depth + 1));
    }
  } else if (def.type === "array" && Array.isArray(value) && value.length) {
    const path = [...prefix, 0];
    out.push({ path, schema: def.element });
    out.push(...fieldsOf(def.element, value[0], path, depth + 1));
  }
  return out;
}

/** A copy of `value` with the field at `path` set to `replacement` (`undefined` deletes it). */
export function withField(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined || node[key] === null || typeof node[key] !== "object") node[key] = typeof path[path.indexOf(key) + 1] === "number" ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  }
  const last = path.at(-1)!;
  if (replacement === undefined) delete node[last];
  else node[last] = replacement;
  return copy;
}

/** Values of every JSON type and some edge numbers: at least one is the wrong type for any field. */
export const WRONG_TYPES: unknown[] = [
  12345,
  -1,
  1.5,
  1e308,
  true,
  null,
  "",
  [],
  {},
];

/**
 * Strings that try to slip through a string field: NUL and other control characters,
 * traversal, unicode look-alikes, a right-to-left override, decomposed accents, a lone
 * surrogate, and strings far over any sane length.
 */
export const NASTY_STRINGS: Array<{ label: string; value: string }> = [
  { label: "NUL", value: "a\u0000b" },
  { label: "traversal", value: "../../../etc/passwd" },
  { label: "CRLF", value: "a\r\nX-Injected: 1" },
  { label: "RTL override", value: "txt.\u202eexe" },
  { label: "Cyrillic look-alike", value: "\u043erders" },
  { label: "NFD accent", value: "cafe\u0301" },
  { label: "lone surrogate", value: "a\ud800b" },
  { label: "overlong", value: "x".repeat(70_000) },
];

/** Whether `schema` accepts `value` (the field alone). */
export const accepts = ok;
