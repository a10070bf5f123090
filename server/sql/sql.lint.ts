/**
 * Lint rules a DBA wants flagged before approving a script. Each statement is parsed with
 * the dialect's grammar (sql.parse.ts); where the grammar cannot read it the statement is
 * reported as `unparseable_statement` and the same rules still run on its tokens, so a
 * parser gap never hides a DROP.
 *
 * Rules: drop_statement, truncate_statement, update_without_where, delete_without_where,
 * non_idempotent_ddl, grant_revoke, unparseable_statement, partial_parse, empty_script,
 * too_many_findings.
 *
 * Scripts are untrusted input linted while their upload waits, so the grammar's work is
 * bounded (it takes ~0.2 ms per statement and ~3 s per MB of one statement): statements past
 * MAX_PARSED_STATEMENTS, or longer than MAX_PARSED_STATEMENT_CHARS (bulk INSERTs), are
 * checked by keywords only, and findings past MAX_FINDINGS are summed up per rule.
 */
import { compareCodeUnits } from "../util/compare.js";
import { factsFromAst, factsFromTokens, type StatementFacts } from "./sql.facts.js";
import { hasParser, parseStatement } from "./sql.parse.js";
import { splitStatements, type SqlStatement } from "./sql.split.js";
import type { Finding, Severity, SqlDialect } from "./sql.types.js";

/** Objects whose DROP loses data; dropping anything else (views, indexes, routines) is a warning. */
const DATA_OBJECTS = new Set(["TABLE", "DATABASE", "SCHEMA", "TABLESPACE", "SEQUENCE", "USER", "ROLE"]);

/** Where each dialect offers `IF NOT EXISTS` on CREATE (MySQL 8 has none for indexes). */
const IF_NOT_EXISTS_OBJECTS: Record<SqlDialect, Set<string>> = {
  postgresql: new Set(["TABLE", "INDEX", "SEQUENCE", "SCHEMA", "EXTENSION"]),
  mysql: new Set(["TABLE", "DATABASE", "SCHEMA"]),
  // Oracle 23ai accepts IF NOT EXISTS; older releases need an exception-handling block.
  oracle: new Set(["TABLE", "INDEX", "SEQUENCE", "USER"]),
  sqlserver: new Set(),
};
/** Objects whose re-creation calls for OR REPLACE (OR ALTER in T-SQL). */
const REPLACEABLE_OBJECTS: Record<SqlDialect, Set<string>> = {
  postgresql: new Set(["VIEW", "FUNCTION", "PROCEDURE", "TRIGGER"]),
  mysql: new Set(["VIEW"]),
  oracle: new Set(["VIEW", "FUNCTION", "PROCEDURE", "PACKAGE", "TRIGGER", "TYPE", "SYNONYM"]),
  sqlserver: new Set(["VIEW", "FUNCTION", "PROCEDURE", "PROC", "TRIGGER"]),
};
/** T-SQL has no IF NOT EXISTS clause: these need an `IF NOT EXISTS (SELECT … FROM sys.…)` guard. */
const TSQL_GUARD_OBJECTS = new Set(["TABLE", "INDEX", "SCHEMA", "SEQUENCE", "DATABASE", "TYPE"]);

export const MAX_PARSED_STATEMENTS = 5_000;
export const MAX_PARSED_STATEMENT_CHARS = 100_000;
export const MAX_FINDINGS = 1_000;

export function lintScript(source: string, dialect: SqlDialect): Finding[] {
  const statements = splitStatements(source, dialect);
  const findings: Finding[] = [];
  if (hasParser(dialect) && (statements.length > MAX_PARSED_STATEMENTS || statements.some((s) => s.text.length > MAX_PARSED_STATEMENT_CHARS))) {
    findings.push({
      rule: "partial_parse",
      severity: "info",
      statement: null,
      line: null,
      message: `statements after the first ${MAX_PARSED_STATEMENTS} and statements over ${MAX_PARSED_STATEMENT_CHARS} characters were checked by keywords only`,
    });
  }
  if (!hasParser(dialect)) {
    findings.push({
      rule: "partial_parse",
      severity: "info",
      statement: null,
      line: null,
      message: `no SQL grammar is available for ${dialect}: statements were split and checked by keywords only`,
    });
  }
  if (statements.length === 0) {
    findings.push({ rule: "empty_script", severity: "warning", statement: null, line: null, message: "the script contains no SQL statement" });
  }
  statements.forEach((statement, i) => {
    const useGrammar = i < MAX_PARSED_STATEMENTS && statement.text.length <= MAX_PARSED_STATEMENT_CHARS;
    findings.push(...lintStatement(statement, dialect, useGrammar));
  });
  return capFindings(findings);
}

/** The first MAX_FINDINGS findings, then one `too_many_findings` warning counting the rest by rule. */
function capFindings(findings: Finding[]): Finding[] {
  if (findings.length <= MAX_FINDINGS) return findings;
  const rest = new Map<string, number>();
  for (const finding of findings.slice(MAX_FINDINGS)) rest.set(finding.rule, (rest.get(finding.rule) ?? 0) + 1);
  const counts = [...rest].sort(([a], [b]) => compareCodeUnits(a, b)).map(([rule, count]) => `${count} ${rule}`).join(", ");
  return [
    ...findings.slice(0, MAX_FINDINGS),
    { rule: "too_many_findings", severity: "warning", statement: null, line: null, message: `${findings.length - MAX_FINDINGS} more findings not listed: ${counts}` },
  ];
}

export function lintStatement(statement: SqlStatement, dialect: SqlDialect, useGrammar = true): Finding[] {
  const findings: Finding[] = [];
  const add = (rule: string, severity: Severity, message: string) =>
    findings.push({ rule, severity, statement: statement.index, line: statement.line, message });
  const words = statement.tokens.filter((t) => t.kind === "word").map((t) => t.value);
  const leading = words[0] ?? "";
  let facts: StatementFacts;
  if (isTransactionControl(words)) {
    return findings;
  } else if (hasParser(dialect) && useGrammar) {
    const parsed = parseStatement(statement.text, dialect, leading);
    if (parsed.ok) {
      facts = factsFromAst(parsed.ast, statement.tokens);
    } else {
      add("unparseable_statement", "warning", `the ${dialect} parser could not read this statement (${parsed.reason}); checked by keywords only`);
      facts = factsFromTokens(statement.tokens);
    }
  } else {
    facts = factsFromTokens(statement.tokens);
  }
  applyRules(facts, dialect, add);
  return findings;
}

/** BEGIN; COMMIT; START TRANSACTION; … carry no hazard, and some grammars cannot read them. */
function isTransactionControl(words: string[]): boolean {
  const [first, second] = words;
  if (words.length > 3 || !first) return false;
  if (first === "BEGIN") return second === undefined || ["WORK", "TRANSACTION", "TRAN"].includes(second);
  return ["COMMIT", "ROLLBACK", "START", "SAVEPOINT", "RELEASE", "END"].includes(first);
}

function applyRules(facts: StatementFacts, dialect: SqlDialect, add: (rule: string, severity: Severity, message: string) => void): void {
  const object = facts.object ?? "";
  switch (facts.verb) {
    case "DROP":
      add("drop_statement", DATA_OBJECTS.has(object) ? "error" : "warning", `DROP ${object || "statement"} removes ${DATA_OBJECTS.has(object) ? "data" : "an object"}`.trim());
      break;
    case "TRUNCATE":
      add("truncate_statement", "error", "TRUNCATE deletes every row of the table");
      break;
    case "UPDATE":
      if (!facts.hasWhere) add("update_without_where", "error", "UPDATE without WHERE changes every row");
      break;
    case "DELETE":
      if (!facts.hasWhere) add("delete_without_where", "error", "DELETE without WHERE removes every row");
      break;
    case "GRANT":
    case "REVOKE":
      add("grant_revoke", "warning", `${facts.verb} changes privileges; privileges are usually managed outside migration scripts`);
      break;
    case "CREATE":
      checkCreate(facts, dialect, add);
      break;
    case "ALTER":
      checkAlter(facts, dialect, add);
      break;
  }
  for (const word of facts.innerHazards ?? []) {
    const rule = word === "DROP" ? "drop_statement" : word === "TRUNCATE" ? "truncate_statement" : "grant_revoke";
    add(rule, "warning", `a procedural block or routine contains ${word}; review its body by hand`);
  }
}

function checkCreate(facts: StatementFacts, dialect: SqlDialect, add: (rule: string, severity: Severity, message: string) => void): void {
  const object = facts.object ?? "";
  if (facts.guarded || facts.ifNotExists || facts.orReplace) return;
  if (dialect === "sqlserver" && TSQL_GUARD_OBJECTS.has(object)) {
    add("non_idempotent_ddl", "warning", `CREATE ${object} fails when it already exists; guard it with IF NOT EXISTS (SELECT … FROM sys.…)`);
  } else if (IF_NOT_EXISTS_OBJECTS[dialect].has(object)) {
    add("non_idempotent_ddl", "warning", `CREATE ${object} without IF NOT EXISTS fails when it already exists`);
  } else if (REPLACEABLE_OBJECTS[dialect].has(object)) {
    const clause = dialect === "sqlserver" ? "CREATE OR ALTER" : "CREATE OR REPLACE";
    add("non_idempotent_ddl", "warning", `CREATE ${object} fails when it already exists; use ${clause}`);
  }
}

function checkAlter(facts: StatementFacts, dialect: SqlDialect, add: (rule: string, severity: Severity, message: string) => void): void {
  for (const action of facts.alterActions ?? []) {
    if (action.action === "drop") {
      const losesData = action.resource === "COLUMN";
      add("drop_statement", losesData ? "error" : "warning", `ALTER ${facts.object ?? "TABLE"} … DROP ${action.resource} ${losesData ? "removes data" : "removes an object"}`);
    }
    // Only PostgreSQL (and MariaDB, which we cannot tell from MySQL) has ADD COLUMN IF NOT EXISTS.
    if (action.action === "add" && action.resource === "COLUMN" && dialect === "postgresql" && !action.ifNotExists && !facts.guarded) {
      add("non_idempotent_ddl", "warning", "ADD COLUMN without IF NOT EXISTS fails when the column already exists");
    }
  }
}
