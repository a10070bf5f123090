import { test } from "node:test";
import assert from "node:assert/strict";
import { AppError } from "../errors.js";
import { orderKeyOf, parseFlywayName, parseSqlUploadMeta } from "./sql.upload.js";

test("Flyway file names fill type, order version and description", () => {
  const table: Array<[string, ReturnType<typeof parseFlywayName>]> = [
    ["V2.4.0.1__add_index.sql", { type: "upgrade", orderVersion: "2.4.0.1", description: "add index" }],
    ["V1_2__split_name.sql", { type: "upgrade", orderVersion: "1.2", description: "split name" }],
    ["U2.4.0.1__add_index.sql", { type: "undo", orderVersion: "2.4.0.1", description: "add index" }],
    ["B3.0__baseline.sql", { type: "init", orderVersion: "3.0", description: "baseline" }],
    ["R__refresh_views.sql", { type: "repeatable", orderVersion: "", description: "refresh views" }],
    ["db/orders/V7__x.sql", { type: "upgrade", orderVersion: "7", description: "x" }],
    ["V1__no_extension.txt", null],
    ["V1_add_index.sql", null], // one underscore: not a Flyway name
    ["R1__versioned_repeatable.sql", null],
    ["V__missing_version.sql", null],
    ["v1__lowercase.sql", null],
    ["create_tables.sql", null],
  ];
  for (const [name, expected] of table) assert.deepEqual(parseFlywayName(name), expected, name);
});

test("order keys sort numerically, and repeatables after every version", () => {
  const versions = ["10.0", "2.4.0.1", "2.10", "2.4", "1.99.3"];
  const sorted = [...versions].sort((a, b) => (orderKeyOf(a, "upgrade", "") < orderKeyOf(b, "upgrade", "") ? -1 : 1));
  assert.deepEqual(sorted, ["1.99.3", "2.4", "2.4.0.1", "2.10", "10.0"]);
  assert.equal(orderKeyOf("2.04", "upgrade", ""), orderKeyOf("2.4", "upgrade", ""));
  assert.equal(orderKeyOf("2.4.0.1", "upgrade", ""), "0000000002.0000000004.0000000000.0000000001");
  assert.ok(orderKeyOf("", "repeatable", "views") > orderKeyOf("9999999999", "upgrade", ""));
});

test("given metadata wins; names and folders fill the rest", () => {
  assert.deepEqual(parseSqlUploadMeta("V2.4.0.1__add_index.sql", { database: "orders", dialect: "PostgreSQL" }), {
    database: "orders",
    dialect: "postgresql",
    type: "upgrade",
    orderVersion: "2.4.0.1",
    orderKey: "0000000002.0000000004.0000000000.0000000001",
    description: "add index",
  });
  const fromPath = parseSqlUploadMeta("db/mariadb/billing/V3__fees.sql", {});
  assert.equal(fromPath.database, "billing");
  assert.equal(fromPath.dialect, "mysql");
  const explicit = parseSqlUploadMeta("nightly_backup.sql", { database: "orders", dialect: "mysql", type: "backup", orderVersion: "5_1" });
  assert.equal(explicit.type, "backup");
  assert.equal(explicit.orderVersion, "5.1");
  assert.equal(explicit.description, "nightly backup");
  assert.equal(parseSqlUploadMeta("V1__x.sql", {}, { database: "core", dialect: "oracle" }).database, "core");
  // The layout db/<dialect>/{table,data}/{all,update} names no database.
  assertCode(() => parseSqlUploadMeta("db/mysql/table/update/V1__x.sql", {}), "sql_database_required");
});

test("bad or missing metadata is a 400 with a stable code", () => {
  const cases: Array<[string, Parameters<typeof parseSqlUploadMeta>[1], string]> = [
    ["V1__x.sql", { dialect: "postgresql" }, "sql_database_required"],
    ["V1__x.sql", { database: "orders" }, "sql_dialect_required"],
    ["V1__x.sql", { database: "orders", dialect: "db2" }, "invalid_sql_dialect"],
    ["create.sql", { database: "orders", dialect: "mysql" }, "sql_type_required"],
    ["create.sql", { database: "orders", dialect: "mysql", type: "migrate" }, "invalid_sql_type"],
    ["create.sql", { database: "orders", dialect: "mysql", type: "upgrade" }, "sql_order_version_required"],
    ["create.sql", { database: "orders", dialect: "mysql", type: "upgrade", orderVersion: "1.x" }, "invalid_sql_order_version"],
    ["R__views.sql", { database: "orders", dialect: "mysql", orderVersion: "1" }, "invalid_sql_order_version"],
    ["V1__x.sql", { database: "../etc", dialect: "mysql" }, "invalid_sql_database"],
  ];
  for (const [filename, given, code] of cases) assertCode(() => parseSqlUploadMeta(filename, given), code);
});

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => error instanceof AppError && error.status === 400 && error.code === code, code);
}
