/**
 * SQL metadata of an upload, checked before anything is stored. Values given with the
 * upload (X-Sql-* headers or multipart fields) win; Flyway-style file names fill in the
 * rest:
 *   V2.4.0.1__add_index.sql → upgrade, order 2.4.0.1, description "add index"
 *   U2.4.0.1__add_index.sql → undo    (Flyway undo migration)
 *   B2.4.0__baseline.sql    → init    (Flyway baseline migration: the whole schema at that version)
 *   R__views.sql            → repeatable, no order version
 * Versions use `.` or `_` between numbers (Flyway's V1_2 is 1.2). Backup and restore
 * scripts have no Flyway prefix: give X-Sql-Type.
 *
 * The logical database: the given value, else the nearest folder of the file name that
 * is not a layout word (`orders/V1__x.sql`, `db/postgresql/orders/V1__x.sql` → orders;
 * `db/mysql/table/update/V1__x.sql` names none), else the caller's default (e.g. the
 * component's only catalog database), else 400 `sql_database_required`.
 * The dialect: given, else a folder named after a dialect, else the caller's default,
 * else 400 `sql_dialect_required`.
 */
import { badRequest } from "../errors.js";
import { SQL_DIALECTS, SQL_TYPES, type SqlDialect, type SqlType, type SqlUploadMeta } from "./sql.types.js";

export type { SqlUploadMeta } from "./sql.types.js";

export interface GivenSqlMeta {
  database?: string;
  dialect?: string;
  type?: string;
  orderVersion?: string;
}

export interface FlywayName {
  type: SqlType;
  orderVersion: string;
  description: string;
}

const FLYWAY_NAME = /^([VUBR])([0-9]+(?:[._][0-9]+)*)?__(.+)\.sql$/;
const FLYWAY_TYPES: Record<string, SqlType> = { V: "upgrade", U: "undo", B: "init", R: "repeatable" };
const ORDER_VERSION = /^[0-9]{1,10}(?:[._][0-9]{1,10})*$/;
const DATABASE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const DIALECT_ALIASES: Record<string, SqlDialect> = {
  postgresql: "postgresql", postgres: "postgresql", pg: "postgresql", pgsql: "postgresql",
  mysql: "mysql", mariadb: "mysql",
  oracle: "oracle", plsql: "oracle",
  sqlserver: "sqlserver", mssql: "sqlserver", tsql: "sqlserver", transactsql: "sqlserver",
};
/** Folder names of common script layouts that never name a database. */
const LAYOUT_WORDS = new Set([
  "db", "sql", "sqls", "migration", "migrations", "scripts", "schema", "table", "tables", "data",
  "all", "update", "updates", "upgrade", "init", "undo", "repeatable", "backup", "restore", "ddl", "dml",
  ...Object.keys(DIALECT_ALIASES),
]);
/** Longest version part; padding every part to this width makes lexical order numeric. */
const PART_WIDTH = 10;

/** Parses a Flyway file name (the last path segment), or returns null when it is not one. */
export function parseFlywayName(filename: string): FlywayName | null {
  const base = filename.split("/").pop() ?? filename;
  const match = FLYWAY_NAME.exec(base);
  if (!match) return null;
  const [, prefix, version, rawDescription] = match;
  const type = FLYWAY_TYPES[prefix!]!;
  // Repeatables have no version; the others need one.
  if ((type === "repeatable") !== (version === undefined)) return null;
  return { type, orderVersion: version ? normalizeVersion(version) : "", description: rawDescription!.replace(/_/g, " ").trim() };
}

/**
 * `2.4.0.1` → `0000000002.0000000004.0000000000.0000000001`; repeatables sort after every
 * versioned script (as Flyway runs them last), by description: `~<description>`.
 */
export function orderKeyOf(orderVersion: string, type: SqlType, description: string): string {
  if (type === "repeatable") return `~${description.toLowerCase()}`;
  return normalizeVersion(orderVersion)
    .split(".")
    .map((part) => part.replace(/^0+(?=\d)/, "").padStart(PART_WIDTH, "0"))
    .join(".");
}

export function parseSqlUploadMeta(filename: string, given: GivenSqlMeta, defaults: { database?: string; dialect?: string } = {}): SqlUploadMeta {
  const flyway = parseFlywayName(filename);
  const folders = filename.split("/").slice(0, -1);
  const base = filename.split("/").pop() ?? filename;

  const type = pickType(given.type, flyway);
  const orderVersion = pickOrderVersion(given.orderVersion, type, flyway);
  const description = flyway?.description ?? base.replace(/\.sql$/i, "").replace(/_/g, " ").trim();
  const dialect = pickDialect(given.dialect, folders, defaults.dialect);
  const database = pickDatabase(given.database, folders, defaults.database);
  return { database, dialect, type, orderVersion, orderKey: orderKeyOf(orderVersion, type, description), description };
}

function pickType(given: string | undefined, flyway: FlywayName | null): SqlType {
  if (given !== undefined && given !== "") {
    const type = given.trim().toLowerCase();
    if (!(SQL_TYPES as readonly string[]).includes(type)) {
      throw badRequest("invalid_sql_type", `unknown SQL script type "${given}"; expected one of ${SQL_TYPES.join(", ")}`, { allowed: SQL_TYPES });
    }
    return type as SqlType;
  }
  if (flyway) return flyway.type;
  throw badRequest(
    "sql_type_required",
    "the SQL script type is required (X-Sql-Type) unless the file name follows Flyway's V<version>__<description>.sql, U…, B… or R__…",
  );
}

function pickOrderVersion(given: string | undefined, type: SqlType, flyway: FlywayName | null): string {
  const value = given !== undefined && given !== "" ? given.trim() : flyway?.orderVersion ?? "";
  if (type === "repeatable") {
    if (value) throw badRequest("invalid_sql_order_version", "repeatable scripts have no order version");
    return "";
  }
  if (!value) {
    throw badRequest("sql_order_version_required", `a ${type} script needs an order version (a Flyway name such as V2.4.0.1__add_index.sql, or the X-Sql-Order header)`);
  }
  if (!ORDER_VERSION.test(value)) {
    throw badRequest("invalid_sql_order_version", `order version "${value}" must be numbers separated by dots, e.g. 2.4.0.1 (at most ${PART_WIDTH} digits each)`);
  }
  return normalizeVersion(value);
}

function pickDialect(given: string | undefined, folders: string[], fallback: string | undefined): SqlDialect {
  if (given !== undefined && given !== "") {
    const dialect = DIALECT_ALIASES[given.trim().toLowerCase()];
    if (!dialect) throw badRequest("invalid_sql_dialect", `unknown SQL dialect "${given}"; expected one of ${SQL_DIALECTS.join(", ")}`, { allowed: SQL_DIALECTS });
    return dialect;
  }
  const fromPath = [...folders].reverse().map((f) => DIALECT_ALIASES[f.toLowerCase()]).find(Boolean);
  if (fromPath) return fromPath;
  if (fallback) return pickDialect(fallback, [], undefined);
  throw badRequest("sql_dialect_required", `the SQL dialect is required (X-Sql-Dialect: ${SQL_DIALECTS.join(" | ")})`);
}

function pickDatabase(given: string | undefined, folders: string[], fallback: string | undefined): string {
  const value = given?.trim() || [...folders].reverse().find((f) => !LAYOUT_WORDS.has(f.toLowerCase())) || fallback;
  if (!value) {
    throw badRequest("sql_database_required", "the logical database is required (X-Sql-Database), e.g. X-Sql-Database: orders");
  }
  if (!DATABASE_NAME.test(value)) {
    throw badRequest("invalid_sql_database", `logical database "${value}" must be 1-63 letters, digits, '_', '.' or '-', starting with a letter or digit`);
  }
  return value;
}

function normalizeVersion(version: string): string {
  return version.replace(/_/g, ".");
}
