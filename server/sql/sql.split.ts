/**
 * Splits a SQL script into statements the way each dialect's own client does, so that a
 * `;` inside a string, a comment, a PostgreSQL dollar-quoted body, a MySQL DELIMITER
 * section, a T-SQL BEGIN…END block or an Oracle PL/SQL block never cuts a statement.
 * Each statement keeps its significant tokens (comments dropped) for the lint rules.
 */
import type { SqlDialect } from "./sql.types.js";

export type TokenKind = "word" | "symbol" | "string" | "identifier";

export interface Token {
  kind: TokenKind;
  /** Words are upper-cased; strings hold their unquoted content. */
  value: string;
  start: number;
  end: number;
  line: number;
  /** Parenthesis depth at the token (an opening parenthesis sits at the outer depth). */
  depth: number;
}

export interface SqlStatement {
  /** 1-based position in the script. */
  index: number;
  /** 1-based line where the statement starts. */
  line: number;
  text: string;
  tokens: Token[];
}

const WORD_START = /[A-Za-z_\u0080-\uffff]/;
const WORD_CHAR = /[A-Za-z0-9_$#@\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;
const Q_QUOTE_CLOSERS: Record<string, string> = { "[": "]", "(": ")", "{": "}", "<": ">" };

/** Words after which a T-SQL/MySQL/PL-SQL `BEGIN` does not open a block. */
const NOT_BLOCK_AFTER_BEGIN = new Set(["TRAN", "TRANSACTION", "DISTRIBUTED", "WORK"]);
/** `END IF`, `END LOOP`… close constructs we do not count as openers. */
const NEUTRAL_AFTER_END = new Set(["IF", "LOOP", "WHILE", "REPEAT"]);

export function splitStatements(source: string, dialect: SqlDialect): SqlStatement[] {
  return new Splitter(source.replace(/^\uFEFF/, ""), dialect).run();
}

class Splitter {
  private pos = 0;
  private line = 1;
  private delimiter = ";";
  private depth = 0;
  private tokens: Token[] = [];
  /** The current statement's words, and how far blockDepth() has counted them (it is asked at every `;`). */
  private words: string[] = [];
  private counted = { words: 0, depth: 0 };
  private readonly statements: SqlStatement[] = [];

  constructor(
    private readonly src: string,
    private readonly dialect: SqlDialect,
  ) {}

  run(): SqlStatement[] {
    while (this.pos < this.src.length) this.step();
    this.flush();
    return this.statements;
  }

  private step(): void {
    const { src, pos } = this;
    const ch = src[pos]!;
    const next = src[pos + 1];
    if (ch === "\n") {
      this.line++;
      this.pos++;
      return;
    }
    if (/\s/.test(ch)) {
      this.pos++;
      return;
    }
    if (this.atLineStart() && this.lineDirective()) return;
    if (this.delimiter !== ";" && src.startsWith(this.delimiter, pos)) {
      this.pos += this.delimiter.length;
      this.flush();
      return;
    }
    if (ch === "-" && next === "-") return this.skipLineComment();
    if (ch === "#" && this.dialect === "mysql") return this.skipLineComment();
    if (ch === "/" && next === "*") return this.skipBlockComment();
    // MySQL treats a backslash in a string as an escape by default.
    if (ch === "'") return this.readQuoted("'", "string", this.dialect === "mysql");
    if (ch === '"') return this.readQuoted('"', this.dialect === "mysql" ? "string" : "identifier", this.dialect === "mysql");
    if (ch === "`" && this.dialect === "mysql") return this.readQuoted("`", "identifier", false);
    if (ch === "[" && this.dialect === "sqlserver") return this.readQuoted("]", "identifier", false, 1);
    if (ch === "$" && this.dialect === "postgresql" && !WORD_CHAR.test(src[pos - 1] ?? " ")) {
      const tag = DOLLAR_TAG.exec(src.slice(pos, pos + 70));
      if (tag) return this.readDollarQuoted(tag[0]);
    }
    if (this.dialect === "oracle" && /[qQ]/.test(ch) && next === "'" && !WORD_CHAR.test(src[pos - 1] ?? " ")) {
      return this.readOracleQQuote();
    }
    if (this.dialect === "postgresql" && /[eE]/.test(ch) && next === "'" && !WORD_CHAR.test(src[pos - 1] ?? " ")) {
      this.pos++; // E'…' string with backslash escapes; the E itself is not a token
      return this.readQuoted("'", "string", true);
    }
    if (WORD_START.test(ch)) return this.readWord();
    if (/[0-9]/.test(ch)) {
      let end = pos + 1;
      while (end < src.length && /[0-9.eE]/.test(src[end]!)) end++;
      this.push("symbol", src.slice(pos, end), pos, end);
      this.pos = end;
      return;
    }
    if (ch === ";" && this.delimiter === ";" && this.semicolonEndsStatement()) {
      this.pos++;
      this.flush();
      return;
    }
    if (ch === "(") {
      this.push("symbol", ch, pos, pos + 1);
      this.depth++;
    } else if (ch === ")") {
      this.depth = Math.max(0, this.depth - 1);
      this.push("symbol", ch, pos, pos + 1);
    } else {
      this.push("symbol", ch, pos, pos + 1);
    }
    this.pos++;
  }

  /**
   * Only whitespace between the last newline and here. Scans back over that whitespace
   * only: looking for the newline itself made one long line (a giant INSERT) quadratic.
   */
  private atLineStart(): boolean {
    for (let i = this.pos - 1; i >= 0; i--) {
      const c = this.src[i]!;
      if (c === "\n") return true;
      if (!/\s/.test(c)) return false;
    }
    return true;
  }

  /** Client directives that live on a line of their own: DELIMITER (MySQL), GO (T-SQL), `/` (Oracle). */
  private lineDirective(): boolean {
    const lineEnd = this.src.indexOf("\n", this.pos);
    const rest = this.src.slice(this.pos, lineEnd === -1 ? this.src.length : lineEnd);
    const consumeLine = () => {
      this.pos += rest.length;
    };
    if (this.dialect === "mysql" && this.tokens.length === 0) {
      const directive = /^delimiter\s+(\S+)/i.exec(rest);
      if (directive) {
        this.delimiter = directive[1]!;
        consumeLine();
        return true;
      }
    }
    if (this.dialect === "sqlserver" && /^go(\s+\d+)?\s*(--.*)?$/i.test(rest)) {
      consumeLine();
      this.flush();
      return true;
    }
    if (this.dialect === "oracle" && /^\/\s*$/.test(rest)) {
      consumeLine();
      this.flush();
      return true;
    }
    return false;
  }

  /**
   * Whether a `;` at depth 0 ends the statement. Inside procedural blocks it does not:
   * MySQL routines and T-SQL BEGIN…END count block depth; T-SQL routine batches and Oracle
   * PL/SQL units run to GO or `/`.
   */
  private semicolonEndsStatement(): boolean {
    const head = this.headWords();
    if (this.dialect === "oracle") return !isPlsqlUnit(head);
    if (this.dialect === "sqlserver" && isTsqlRoutine(head)) return false;
    if (this.dialect === "mysql" || this.dialect === "sqlserver") return this.blockDepth() === 0;
    return true;
  }

  private headWords(): string[] {
    const words: string[] = [];
    for (const token of this.tokens) {
      if (words.length >= 8) break;
      if (token.kind === "word") words.push(token.value);
    }
    return words;
  }

  /**
   * BEGIN…END and CASE…END depth of the current statement. A word's effect depends on its
   * neighbours only, so words whose follower is known are counted once and remembered: a
   * routine with thousands of `;` inside used to be recounted from its start at each one.
   */
  private blockDepth(): number {
    const words = this.words;
    const effect = (i: number, depth: number): number => {
      const word = words[i]!;
      const following = words[i + 1] ?? "";
      // A bare `BEGIN;` starts a transaction; so does a statement-leading BEGIN in MySQL,
      // whose BEGIN…END blocks exist only inside routines.
      const opensBlock = following !== "" && !NOT_BLOCK_AFTER_BEGIN.has(following) && !(i === 0 && this.dialect === "mysql");
      if (word === "BEGIN" && opensBlock) return depth + 1;
      if (word === "CASE" && words[i - 1] !== "END") return depth + 1;
      if (word === "END" && !NEUTRAL_AFTER_END.has(following)) return Math.max(0, depth - 1);
      return depth;
    };
    while (this.counted.words < words.length - 1) this.counted.depth = effect(this.counted.words++, this.counted.depth);
    return words.length ? effect(words.length - 1, this.counted.depth) : 0;
  }

  private skipLineComment(): void {
    const end = this.src.indexOf("\n", this.pos);
    this.pos = end === -1 ? this.src.length : end;
  }

  private skipBlockComment(): void {
    // PostgreSQL nests block comments; the others end at the first */.
    let nesting = 0;
    let i = this.pos;
    while (i < this.src.length) {
      if (this.src.startsWith("/*", i)) {
        nesting++;
        i += 2;
        if (this.dialect !== "postgresql" && nesting > 1) nesting = 1;
      } else if (this.src.startsWith("*/", i)) {
        nesting--;
        i += 2;
        if (nesting === 0) break;
      } else {
        if (this.src[i] === "\n") this.line++;
        i++;
      }
    }
    this.pos = i;
  }

  private readQuoted(closer: string, kind: TokenKind, backslash: boolean, openLength = 1): void {
    const start = this.pos;
    const startLine = this.line;
    let i = start + openLength;
    let value = "";
    while (i < this.src.length) {
      const c = this.src[i]!;
      if (backslash && c === "\\") {
        value += this.src[i + 1] ?? "";
        i += 2;
        continue;
      }
      if (c === closer) {
        if (this.src[i + 1] === closer) {
          value += c;
          i += 2;
          continue;
        }
        i++;
        break;
      }
      if (c === "\n") this.line++;
      value += c;
      i++;
    }
    this.push(kind, value, start, i, startLine);
    this.pos = i;
  }

  private readDollarQuoted(tag: string): void {
    const start = this.pos;
    const bodyStart = start + tag.length;
    const close = this.src.indexOf(tag, bodyStart);
    const end = close === -1 ? this.src.length : close + tag.length;
    const value = this.src.slice(bodyStart, close === -1 ? end : close);
    this.push("string", value, start, end);
    this.line += countNewlines(this.src.slice(start, end));
    this.pos = end;
  }

  private readOracleQQuote(): void {
    const start = this.pos;
    const open = this.src[start + 2] ?? "'";
    const closer = (Q_QUOTE_CLOSERS[open] ?? open) + "'";
    const close = this.src.indexOf(closer, start + 3);
    const end = close === -1 ? this.src.length : close + 2;
    this.push("string", this.src.slice(start + 3, close === -1 ? end : close), start, end);
    this.line += countNewlines(this.src.slice(start, end));
    this.pos = end;
  }

  private readWord(): void {
    const start = this.pos;
    let end = start + 1;
    while (end < this.src.length && WORD_CHAR.test(this.src[end]!)) end++;
    this.push("word", this.src.slice(start, end).toUpperCase(), start, end);
    this.pos = end;
  }

  private push(kind: TokenKind, value: string, start: number, end: number, line = this.line): void {
    this.tokens.push({ kind, value, start, end, line, depth: this.depth });
    if (kind === "word") this.words.push(value);
  }

  private flush(): void {
    const tokens = this.tokens;
    this.tokens = [];
    this.words = [];
    this.counted = { words: 0, depth: 0 };
    this.depth = 0;
    const first = tokens[0];
    const last = tokens[tokens.length - 1];
    if (!first || !last) return;
    const text = this.src.slice(first.start, last.end).trim();
    this.statements.push({ index: this.statements.length + 1, line: first.line, text, tokens });
  }
}

function countNewlines(text: string): number {
  let n = 0;
  for (const c of text) if (c === "\n") n++;
  return n;
}

function stripCreatePrefix(head: string[]): string[] {
  let i = 0;
  if (head[i] === "CREATE" || head[i] === "ALTER") i++;
  else return head;
  if (head[i] === "OR" && (head[i + 1] === "REPLACE" || head[i + 1] === "ALTER")) i += 2;
  while (head[i] === "EDITIONABLE" || head[i] === "NONEDITIONABLE") i++;
  return head.slice(i);
}

/** Oracle units whose body holds `;` and which SQL*Plus ends with a `/` line. */
export function isPlsqlUnit(head: string[]): boolean {
  if (head[0] === "DECLARE" || head[0] === "BEGIN") return true;
  if (head[0] !== "CREATE") return false;
  const object = stripCreatePrefix(head)[0];
  return ["PROCEDURE", "FUNCTION", "PACKAGE", "TRIGGER", "TYPE"].includes(object ?? "");
}

/** T-SQL objects that must be alone in their batch (ended by GO). */
export function isTsqlRoutine(head: string[]): boolean {
  if (head[0] !== "CREATE" && head[0] !== "ALTER") return false;
  const object = stripCreatePrefix(head)[0];
  return ["PROCEDURE", "PROC", "FUNCTION", "TRIGGER", "VIEW"].includes(object ?? "");
}
