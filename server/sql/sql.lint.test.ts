import { test } from "node:test";
import assert from "node:assert/strict";
import { lintScript } from "./sql.lint.js";
import { splitStatements } from "./sql.split.js";
import type { Finding, SqlDialect } from "./sql.types.js";

/** `rule@statement` for every finding of a severity above info. */
function hits(findings: Finding[]): string[] {
  return findings.filter((f) => f.severity !== "info").map((f) => `${f.rule}@${f.statement}`);
}

const HAZARDS: Record<"postgresql" | "mysql", { script: string; expected: string[] }> = {
  postgresql: {
    script: `
DROP TABLE legacy_orders;
TRUNCATE audit_log;
UPDATE orders SET total = 0;
DELETE FROM orders;
CREATE TABLE invoices (id bigint PRIMARY KEY);
ALTER TABLE orders ADD COLUMN discount numeric;
CREATE INDEX idx_orders_total ON orders (total);
GRANT SELECT ON orders TO reporting;
REVOKE ALL ON orders FROM public;
ALTER TABLE orders DROP COLUMN note;
CREATE VIEW open_orders AS SELECT * FROM orders;
DO $$ BEGIN EXECUTE 'DROP TABLE tmp'; END $$;
`,
    expected: [
      "drop_statement@1", "truncate_statement@2", "update_without_where@3", "delete_without_where@4",
      "non_idempotent_ddl@5", "non_idempotent_ddl@6", "non_idempotent_ddl@7", "grant_revoke@8", "grant_revoke@9",
      "drop_statement@10", "non_idempotent_ddl@11", "unparseable_statement@12", "drop_statement@12",
    ],
  },
  mysql: {
    script: `
DROP TABLE legacy_orders;
TRUNCATE TABLE audit_log;
UPDATE orders SET total = 0 LIMIT 10;
DELETE FROM orders;
CREATE TABLE invoices (id bigint PRIMARY KEY);
GRANT SELECT ON shop.orders TO 'reporting'@'%';
REVOKE SELECT ON shop.orders FROM 'reporting'@'%';
ALTER TABLE orders DROP COLUMN note;
CREATE VIEW open_orders AS SELECT * FROM orders;
SELEC broken;
`,
    expected: [
      "drop_statement@1", "truncate_statement@2", "update_without_where@3", "delete_without_where@4",
      "non_idempotent_ddl@5", "grant_revoke@6", "unparseable_statement@7", "grant_revoke@7",
      "drop_statement@8", "non_idempotent_ddl@9", "unparseable_statement@10",
    ],
  },
};

for (const dialect of ["postgresql", "mysql"] as const) {
  test(`${dialect}: every hazard is flagged on its statement`, () => {
    const { script, expected } = HAZARDS[dialect];
    assert.deepEqual(hits(lintScript(script, dialect)), expected);
  });
}

test("destructive statements and unguarded writes are errors; DDL style is a warning", () => {
  const findings = lintScript("DROP TABLE a; DROP VIEW v; DELETE FROM t; CREATE TABLE b (id int);", "postgresql");
  assert.deepEqual(findings.map((f) => `${f.rule}:${f.severity}`), [
    "drop_statement:error", "drop_statement:warning", "delete_without_where:error", "non_idempotent_ddl:warning",
  ]);
});

const CLEAN: Record<SqlDialect, string> = {
  postgresql: `-- orders schema; safe to re-run
CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, note text DEFAULT 'a; b');
ALTER TABLE orders ADD COLUMN IF NOT EXISTS total numeric;
CREATE INDEX IF NOT EXISTS idx_orders_total ON orders (total);
CREATE OR REPLACE VIEW open_orders AS SELECT * FROM orders WHERE total > 0;
UPDATE orders SET total = 0 WHERE total IS NULL;
DELETE FROM orders WHERE id IN (SELECT id FROM orders WHERE note = 'test');
INSERT INTO orders (id, note) VALUES (1, 'first');
CREATE OR REPLACE FUNCTION touch() RETURNS trigger AS $fn$ BEGIN NEW.note := 'x;y'; RETURN NEW; END $fn$ LANGUAGE plpgsql;
`,
  mysql: `# orders schema
CREATE TABLE IF NOT EXISTS orders (id bigint PRIMARY KEY, note varchar(20) DEFAULT 'it\\'s; fine');
CREATE OR REPLACE VIEW open_orders AS SELECT * FROM orders WHERE id > 0;
UPDATE orders SET note = 'x' WHERE id = 1;
DELETE FROM orders WHERE id = 2;
INSERT INTO orders (id, note) VALUES (3, "three");
`,
  oracle: "",
  sqlserver: "",
};

for (const dialect of ["postgresql", "mysql"] as const) {
  test(`${dialect}: a clean script has no findings`, () => {
    assert.deepEqual(lintScript(CLEAN[dialect], dialect), []);
  });
}

test("the splitter honours quotes, comments, dollar quotes and client delimiters", () => {
  const texts = (source: string, dialect: SqlDialect) => splitStatements(source, dialect).map((s) => s.text);
  assert.deepEqual(texts("SELECT ';'; /* ; /* nested ; */ still comment ; */ SELECT $a$ ; $a$; SELECT E'\\';'", "postgresql"), [
    "SELECT ';'",
    "SELECT $a$ ; $a$",
    "SELECT E'\\';'",
  ]);
  const mysql = "DELIMITER //\nCREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END//\nDELIMITER ;\nSELECT `a;b` FROM t; -- tail ;\n";
  assert.deepEqual(texts(mysql, "mysql"), ["CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END", "SELECT `a;b` FROM t"]);
  assert.deepEqual(texts("CREATE PROCEDURE q() BEGIN IF 1 THEN SELECT 1; END IF; END;\nBEGIN;\nCOMMIT;", "mysql"), [
    "CREATE PROCEDURE q() BEGIN IF 1 THEN SELECT 1; END IF; END",
    "BEGIN",
    "COMMIT",
  ]);
  const tsql = "CREATE PROCEDURE p AS BEGIN SELECT 1; SELECT 2; END\nGO\nIF 1=1 BEGIN SELECT 3; SELECT 4; END;\nSELECT [x;y];";
  assert.deepEqual(texts(tsql, "sqlserver"), ["CREATE PROCEDURE p AS BEGIN SELECT 1; SELECT 2; END", "IF 1=1 BEGIN SELECT 3; SELECT 4; END", "SELECT [x;y]"]);
  const oracle = "CREATE OR REPLACE PROCEDURE p IS BEGIN NULL; END;\n/\nSELECT q'[it's;]' FROM dual;";
  const split = splitStatements(oracle, "oracle");
  assert.deepEqual(split.map((s) => [s.text, s.line]), [["CREATE OR REPLACE PROCEDURE p IS BEGIN NULL; END;", 1], ["SELECT q'[it's;]' FROM dual", 3]]);
});

test("Oracle has no grammar: keyword checks still run and the partial parse is said", () => {
  const findings = lintScript("DROP TABLE a;\nBEGIN EXECUTE IMMEDIATE 'TRUNCATE TABLE b'; END;\n/\n", "oracle");
  assert.deepEqual(findings.map((f) => `${f.rule}:${f.severity}@${f.line}`), ["partial_parse:info@null", "drop_statement:error@1", "truncate_statement:warning@2"]);
});

test("T-SQL: guarded DDL is idempotent; the parser's misreadings are not trusted", () => {
  const findings = lintScript("IF NOT EXISTS (SELECT 1 FROM sys.tables WHERE name = 'a') CREATE TABLE a (id int);\nCREATE TABLE b (id int);\nGRANT SELECT ON b TO bob;", "sqlserver");
  assert.deepEqual(hits(findings), ["non_idempotent_ddl@2", "unparseable_statement@3", "grant_revoke@3"]);
});
