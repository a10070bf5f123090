/**
 * What a statement does, in the few terms the lint rules need. Read from the parser's AST
 * when the parser could read the statement, otherwise from its tokens, so rules are
 * written once and apply to both.
 */
import type { AstNode } from "./sql.parse.js";
import type { Token } from "./sql.split.js";

export interface AlterAction {
  action: "add" | "drop" | "other";
  /** COLUMN, CONSTRAINT, INDEX, … (upper case). */
  resource: string;
  ifNotExists: boolean;
}

export interface StatementFacts {
  /** Leading verb: CREATE, ALTER, DROP, TRUNCATE, UPDATE, DELETE, GRANT, REVOKE, BLOCK, … */
  verb: string;
  /** Object of CREATE/ALTER/DROP: TABLE, INDEX, VIEW, … */
  object?: string;
  ifNotExists?: boolean;
  /** CREATE OR REPLACE / CREATE OR ALTER. */
  orReplace?: boolean;
  hasWhere?: boolean;
  alterActions?: AlterAction[];
  /** Inside a T-SQL `IF (NOT) EXISTS (…)` guard. */
  guarded?: boolean;
  /** For procedural blocks and routines: hazardous keywords found anywhere inside. */
  innerHazards?: string[];
}

const OBJECT_WORDS = new Set([
  "TABLE", "INDEX", "VIEW", "SEQUENCE", "SCHEMA", "DATABASE", "FUNCTION", "PROCEDURE", "PROC", "TRIGGER",
  "TYPE", "EXTENSION", "USER", "ROLE", "PACKAGE", "EVENT", "SYNONYM", "DOMAIN", "TABLESPACE",
]);
const ROUTINE_OBJECTS = new Set(["FUNCTION", "PROCEDURE", "PROC", "TRIGGER", "PACKAGE", "EVENT", "TYPE"]);
const BLOCK_VERBS = new Set(["BEGIN", "DECLARE", "DO"]);
const HAZARD_WORDS = ["DROP", "TRUNCATE", "GRANT", "REVOKE"];
const ADD_NON_COLUMN = new Set(["CONSTRAINT", "INDEX", "KEY", "PRIMARY", "UNIQUE", "FOREIGN", "CHECK", "FULLTEXT", "SPATIAL", "PARTITION"]);

// ---------------------------------------------------------------- from tokens

export function factsFromTokens(tokens: Token[]): StatementFacts {
  const words = tokens.filter((t) => t.kind === "word");
  const verb = words[0]?.value ?? "";
  if (BLOCK_VERBS.has(verb)) return { verb: "BLOCK", innerHazards: hazardsInside(tokens) };
  if (verb === "IF") return guardedFromTokens(tokens);
  if (verb === "WITH") return dmlAfterCte(tokens);
  if (verb === "UPDATE" || verb === "DELETE") return { verb, hasWhere: hasWordAtDepth(tokens, "WHERE", words[0]!.depth) };
  if (verb === "DROP") {
    const object = words.slice(1).find((w) => OBJECT_WORDS.has(w.value))?.value ?? words[1]?.value;
    return { verb, object };
  }
  if (verb === "CREATE") return createFromTokens(tokens);
  if (verb === "ALTER") return alterFromTokens(tokens);
  return { verb };
}

function createFromTokens(tokens: Token[]): StatementFacts {
  const words = tokens.filter((t) => t.kind === "word").map((t) => t.value);
  const objectAt = words.findIndex((w, i) => i > 0 && OBJECT_WORDS.has(w));
  const object = objectAt === -1 ? words[1] : words[objectAt];
  const before = words.slice(0, Math.max(objectAt, 1));
  const orReplace = before.some((w, i) => w === "OR" && (before[i + 1] === "REPLACE" || before[i + 1] === "ALTER"));
  const after = words.slice(objectAt + 1, objectAt + 6).join(" ");
  const facts: StatementFacts = { verb: "CREATE", object, orReplace, ifNotExists: after.includes("IF NOT EXISTS") };
  if (object && ROUTINE_OBJECTS.has(object)) facts.innerHazards = hazardsInside(tokens);
  return facts;
}

function alterFromTokens(tokens: Token[]): StatementFacts {
  const words = tokens.filter((t) => t.kind === "word");
  const object = words[1]?.value;
  if (object !== "TABLE") return { verb: "ALTER", object };
  // Clauses are separated by commas at the statement's outer depth.
  const clauses: Token[][] = [[]];
  const base = tokens[0]?.depth ?? 0;
  for (const token of tokens.slice(1)) {
    if (token.kind === "symbol" && token.value === "," && token.depth === base) clauses.push([]);
    else clauses[clauses.length - 1]!.push(token);
  }
  const alterActions: AlterAction[] = [];
  for (const clause of clauses) {
    const clauseWords = clause.filter((t) => t.kind === "word").map((t) => t.value);
    // The first clause starts with "TABLE [ONLY] name"; its action is the first ADD/DROP.
    const at = clauseWords.findIndex((w) => w === "ADD" || w === "DROP" || w === "ALTER" || w === "MODIFY" || w === "RENAME");
    if (at === -1) continue;
    const action = clauseWords[at] === "ADD" ? "add" : clauseWords[at] === "DROP" ? "drop" : "other";
    const next = clauseWords[at + 1] ?? "";
    const rest = clauseWords.slice(at + 1, at + 6).join(" ");
    let resource = "COLUMN";
    if (action === "add" && ADD_NON_COLUMN.has(next)) resource = next;
    if (action === "drop" && next !== "COLUMN" && next !== "IF" && OBJECT_OR_CONSTRAINT.has(next)) resource = next;
    alterActions.push({ action, resource, ifNotExists: rest.includes("IF NOT EXISTS") });
  }
  return { verb: "ALTER", object, alterActions };
}

const OBJECT_OR_CONSTRAINT = new Set(["CONSTRAINT", "INDEX", "KEY", "PRIMARY", "FOREIGN", "PARTITION", "CHECK", "DEFAULT"]);

function dmlAfterCte(tokens: Token[]): StatementFacts {
  const base = tokens[0]?.depth ?? 0;
  const main = tokens.find((t) => t.kind === "word" && t.depth === base && ["UPDATE", "DELETE", "INSERT", "SELECT", "MERGE"].includes(t.value));
  if (!main) return { verb: "WITH" };
  if (main.value !== "UPDATE" && main.value !== "DELETE") return { verb: main.value };
  const from = tokens.indexOf(main);
  return { verb: main.value, hasWhere: hasWordAtDepth(tokens.slice(from), "WHERE", base) };
}

/** `IF [NOT] EXISTS (…) [BEGIN] <statement>`: the guarded statement's facts. */
function guardedFromTokens(tokens: Token[]): StatementFacts {
  const base = tokens[0]?.depth ?? 0;
  let i = 1;
  while (i < tokens.length && !(tokens[i]!.value === "(" && tokens[i]!.depth === base)) i++;
  // Skip to the parenthesis that closes the condition.
  i++;
  while (i < tokens.length && !(tokens[i]!.value === ")" && tokens[i]!.depth === base)) i++;
  let inner = tokens.slice(i + 1);
  if (inner[0]?.value === "BEGIN") inner = inner.slice(1);
  if (inner.length === 0) return { verb: "IF" };
  return { ...factsFromTokens(inner), guarded: true };
}

function hasWordAtDepth(tokens: Token[], word: string, depth: number): boolean {
  return tokens.some((t) => t.kind === "word" && t.value === word && t.depth === depth);
}

/** Hazard keywords in a routine or block, including inside strings (EXECUTE IMMEDIATE 'DROP …'). */
function hazardsInside(tokens: Token[]): string[] {
  const found = new Set<string>();
  for (const token of tokens.slice(1)) {
    if (token.kind === "word" && HAZARD_WORDS.includes(token.value)) found.add(token.value);
    if (token.kind === "string") {
      for (const word of HAZARD_WORDS) if (new RegExp(`\\b${word}\\b`, "i").test(token.value)) found.add(word);
    }
  }
  return [...found];
}

// ---------------------------------------------------------------- from the AST

export function factsFromAst(ast: AstNode, tokens: Token[]): StatementFacts {
  const type = String(ast.type).toUpperCase();
  switch (ast.type) {
    case "update":
    case "delete":
      return { verb: type, hasWhere: Boolean(ast.where) };
    case "drop":
    case "truncate":
      return { verb: type, object: upper(ast.keyword) };
    case "create": {
      const object = upper(ast.keyword);
      const facts: StatementFacts = {
        verb: "CREATE",
        object,
        ifNotExists: Boolean(ast.if_not_exists),
        orReplace: Boolean(ast.replace) || createFromTokens(tokens).orReplace,
      };
      if (object && ROUTINE_OBJECTS.has(object)) facts.innerHazards = hazardsInside(tokens);
      return facts;
    }
    case "alter": {
      const actions = Array.isArray(ast.expr) ? (ast.expr as AstNode[]) : [];
      return {
        verb: "ALTER",
        object: upper(ast.keyword) ?? "TABLE",
        alterActions: actions.map((a) => ({
          action: a.action === "add" ? "add" : a.action === "drop" ? "drop" : "other",
          resource: upper(a.resource) ?? "COLUMN",
          ifNotExists: Boolean(a.if_not_exists),
        })),
      };
    }
    case "if": {
      const inner = ast.if_expr?.ast as AstNode | undefined;
      // The parser keeps the guarded statement; without it, fall back to the tokens.
      if (!inner || typeof inner.type !== "string") return factsFromTokens(tokens);
      return { ...factsFromAst(inner, guardedBody(tokens)), guarded: true };
    }
    default:
      return { verb: type };
  }
}

function guardedBody(tokens: Token[]): Token[] {
  const base = tokens[0]?.depth ?? 0;
  const close = tokens.findIndex((t, i) => i > 1 && t.value === ")" && t.depth === base);
  return close === -1 ? tokens : tokens.slice(close + 1);
}

function upper(value: unknown): string | undefined {
  return typeof value === "string" && value ? value.toUpperCase() : undefined;
}
