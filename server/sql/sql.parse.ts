/**
 * node-sql-parser, one grammar per dialect. It has grammars for PostgreSQL, MySQL and
 * T-SQL but none for Oracle, and its grammars are incomplete (PostgreSQL `DO` blocks and
 * `ON CONFLICT`, MySQL `REVOKE` and routines fail; T-SQL `GRANT` is misread as variable
 * assignments). parseStatement therefore only returns an AST whose statement type agrees
 * with the statement's leading keyword; everything else is "not read" and linted by tokens.
 */
import { createRequire } from "node:module";
import type postgresql from "node-sql-parser/build/postgresql.js";
import type { SqlDialect } from "./sql.types.js";

// The parser's AST is loosely typed; callers read it defensively.
export type AstNode = Record<string, any>;

type Grammar = { Parser: typeof postgresql.Parser; database: string };

// Each grammar is several MiB of generated code: load a dialect's only when a script of
// that dialect is first linted, so a server that never sees SQL does not carry them.
const require = createRequire(import.meta.url);
const grammarModules: Partial<Record<SqlDialect, { module: string; database: string }>> = {
  postgresql: { module: "node-sql-parser/build/postgresql.js", database: "PostgresQL" },
  mysql: { module: "node-sql-parser/build/mysql.js", database: "MySQL" },
  sqlserver: { module: "node-sql-parser/build/transactsql.js", database: "TransactSQL" },
};
const loadedGrammars = new Map<SqlDialect, Grammar>();

function grammarFor(dialect: SqlDialect): Grammar | undefined {
  const spec = grammarModules[dialect];
  if (!spec) return undefined;
  let grammar = loadedGrammars.get(dialect);
  if (!grammar) {
    grammar = { Parser: (require(spec.module) as typeof postgresql).Parser, database: spec.database };
    loadedGrammars.set(dialect, grammar);
  }
  return grammar;
}

export function hasParser(dialect: SqlDialect): boolean {
  return dialect in grammarModules;
}

/** Statement types the parser may legitimately return for a leading keyword. */
const EXPECTED_TYPES: Record<string, string[]> = {
  CREATE: ["create"],
  ALTER: ["alter"],
  DROP: ["drop"],
  TRUNCATE: ["truncate"],
  UPDATE: ["update"],
  DELETE: ["delete"],
  INSERT: ["insert"],
  REPLACE: ["replace", "insert"],
  GRANT: ["grant"],
  REVOKE: ["revoke"],
  SELECT: ["select"],
  IF: ["if"],
  COMMENT: ["comment"],
  RENAME: ["rename"],
};

export type ParseResult = { ok: true; ast: AstNode } | { ok: false; reason: string };

export function parseStatement(text: string, dialect: SqlDialect, leadingKeyword: string): ParseResult {
  const grammar = grammarFor(dialect);
  if (!grammar) return { ok: false, reason: `no ${dialect} grammar` };
  let result: unknown;
  try {
    result = new grammar.Parser().astify(text, { database: grammar.database });
  } catch (error) {
    return { ok: false, reason: firstLine(error instanceof Error ? error.message : String(error)) };
  }
  const list = (Array.isArray(result) ? result : [result]).filter((node) => node && typeof node === "object") as AstNode[];
  const ast = list[0];
  if (list.length !== 1 || !ast || typeof ast.type !== "string") {
    return { ok: false, reason: "the parser did not read it as a single statement" };
  }
  const expected = EXPECTED_TYPES[leadingKeyword];
  if (expected && !expected.includes(ast.type)) {
    return { ok: false, reason: `the parser read a ${leadingKeyword} statement as "${ast.type}"` };
  }
  return { ok: true, ast };
}

function firstLine(message: string): string {
  const line = message.split("\n")[0] ?? message;
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}
