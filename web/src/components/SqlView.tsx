/**
 * A SQL script with line numbers, light syntax highlighting and the lint findings shown
 * under the line where their statement starts. Highlighting is a small tokenizer: enough
 * to read a migration, never a parser.
 */
import { Fragment } from "react";

export interface Finding {
  rule: string;
  severity: "error" | "warning" | "info";
  statement: number | null;
  line: number | null;
  message: string;
}

const KEYWORDS = new Set(
  `add all alter and as asc begin between by cascade case check column commit constraint create database default delete desc distinct drop else end exists foreign from grant group having if in index inner insert into is join key left like limit not null on or order outer primary procedure references rename replace revoke right rollback schema select sequence set table then to transaction trigger truncate union unique update using values view when where with`.split(
    " ",
  ),
);

type TokenKind = "kw" | "str" | "num" | "com" | "plain";
type Token = [TokenKind, string];
const TOKEN = /(--[^\n]*|\/\*[\s\S]*?(?:\*\/|$))|('(?:[^']|'')*'?)|(\b\d+(?:\.\d+)?\b)|([A-Za-z_][A-Za-z0-9_$]*)|([\s\S])/g;

/** Tokenizes the whole script (block comments span lines), then splits tokens into lines. */
function tokenizeLines(text: string): Token[][] {
  const lines: Token[][] = [[]];
  const push = (kind: TokenKind, value: string) => {
    const parts = value.split("\n");
    parts.forEach((part, i) => {
      if (i > 0) lines.push([]);
      if (part) lines[lines.length - 1]!.push([kind, part]);
    });
  };
  for (const [text_, comment, str, num, word] of text.matchAll(TOKEN)) {
    if (comment) push("com", comment);
    else if (str) push("str", str);
    else if (num) push("num", num);
    else if (word) push(KEYWORDS.has(word.toLowerCase()) ? "kw" : "plain", word);
    else push("plain", text_);
  }
  return lines;
}

export function SqlView({ text, findings }: { text: string; findings: Finding[] }) {
  const lines = tokenizeLines(text.replace(/\r\n/g, "\n"));
  if (lines.length > 1 && lines[lines.length - 1]!.length === 0) lines.pop();
  const byLine = new Map<number, Finding[]>();
  for (const finding of findings) {
    if (finding.line === null) continue;
    byLine.set(finding.line, [...(byLine.get(finding.line) ?? []), finding]);
  }
  return (
    <div className="sql-view" role="region" aria-label="Script content" tabIndex={0}>
      <table>
        <tbody>
          {lines.map((tokens, index) => {
            const number = index + 1;
            const here = byLine.get(number);
            return (
              <Fragment key={number}>
                <tr className={here ? `has-finding ${worst(here)}` : undefined}>
                  <td className="ln" aria-hidden="true">
                    {number}
                  </td>
                  <td className="src">
                    {tokens.map(([kind, t], i) =>
                      kind === "plain" ? (
                        <Fragment key={i}>{t}</Fragment>
                      ) : (
                        <span key={i} className={`tok-${kind}`}>
                          {t}
                        </span>
                      ),
                    )}
                  </td>
                </tr>
                {here?.map((finding, i) => (
                  <tr key={`f${i}`} className={`finding-row ${finding.severity}`}>
                    <td className="ln" />
                    <td>
                      <span className="finding-tag">{finding.severity}</span> <code>{finding.rule}</code> — {finding.message}
                    </td>
                  </tr>
                ))}
              </Fragment>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function worst(findings: Finding[]): string {
  if (findings.some((f) => f.severity === "error")) return "error";
  if (findings.some((f) => f.severity === "warning")) return "warning";
  return "info";
}
