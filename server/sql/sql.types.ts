/** Vocabulary of the SQL domain (SPEC §2 "SQL script"). */
export const SQL_DIALECTS = ["postgresql", "mysql", "oracle", "sqlserver"] as const;
export type SqlDialect = (typeof SQL_DIALECTS)[number];

export const SQL_TYPES = ["init", "upgrade", "undo", "repeatable", "backup", "restore"] as const;
export type SqlType = (typeof SQL_TYPES)[number];

export const SQL_STATUSES = ["pending", "approved", "rejected"] as const;
export type SqlStatus = (typeof SQL_STATUSES)[number];

export interface SqlUploadMeta {
  database: string;
  dialect: SqlDialect;
  type: SqlType;
  /** Dotted numeric version (`2.4.0.1`); empty for repeatable scripts. */
  orderVersion: string;
  /** Sorts like the version (see orderKeyOf); use it wherever scripts are ordered. */
  orderKey: string;
  description: string;
}

export type Severity = "error" | "warning" | "info";

export interface Finding {
  /** Stable snake_case rule name, e.g. `update_without_where`. */
  rule: string;
  severity: Severity;
  /** 1-based statement number within the script; null for findings about the whole script. */
  statement: number | null;
  /** 1-based line where the statement starts; null for whole-script findings. */
  line: number | null;
  message: string;
}
