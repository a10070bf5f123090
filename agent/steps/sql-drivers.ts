/**
 * The two SQL dialects the agent can apply scripts to, behind one small interface, and
 * the site's history table `ferry_schema_history` (Flyway-like: one row per script run,
 * success or not). PostgreSQL runs each script and its history row in one transaction,
 * so a failed script leaves nothing; MySQL/MariaDB commits DDL implicitly, so a failed
 * script may leave part of itself behind and its failure row blocks later runs until a
 * DBA has looked (see steps/sql.ts).
 */
import mysql from "mysql2/promise";
import pg from "pg";

export interface HistoryRow {
  installed_rank: number;
  version: string | null;
  description: string;
  type: string;
  filename: string;
  sha256: string;
  component: string | null;
  release: string | null;
  bundle_id: string | null;
  installed_by: string;
  installed_on: string;
  execution_time: number;
  success: boolean;
}

export interface NewHistoryRow {
  version: string | null;
  description: string;
  type: string;
  filename: string;
  sha256: string;
  component: string;
  release: string;
  bundleId: string;
  executionTime: number;
  success: boolean;
}

export interface SqlDriver {
  readonly transactionalDdl: boolean;
  /** Serialises agents migrating the same database. */
  lock(): Promise<void>;
  ensureHistoryTable(): Promise<void>;
  history(): Promise<HistoryRow[]>;
  /** Runs the script and records it, in one transaction where the dialect allows. */
  runAndRecord(script: string, row: NewHistoryRow): Promise<void>;
  record(row: NewHistoryRow): Promise<void>;
  close(): Promise<void>;
}

const COLUMNS = "version, description, type, filename, sha256, component, release, bundle_id, execution_time, success";
const values = (row: NewHistoryRow) => [row.version, row.description.slice(0, 200), row.type, row.filename, row.sha256, row.component, row.release, row.bundleId, row.executionTime, row.success];

const toRow = (row: Record<string, unknown>): HistoryRow => ({
  installed_rank: Number(row.installed_rank),
  version: (row.version as string | null) ?? null,
  description: String(row.description),
  type: String(row.type),
  filename: String(row.filename),
  sha256: String(row.sha256),
  component: (row.component as string | null) ?? null,
  release: (row.release as string | null) ?? null,
  bundle_id: (row.bundle_id as string | null) ?? null,
  installed_by: String(row.installed_by),
  installed_on: new Date(row.installed_on as string).toISOString(),
  execution_time: Number(row.execution_time),
  success: Boolean(row.success),
});

export async function connectSql(dialect: string, url: string, timeoutSeconds?: number): Promise<SqlDriver> {
  if (dialect === "postgresql") return connectPostgres(url, timeoutSeconds);
  if (dialect === "mysql") return connectMysql(url, timeoutSeconds);
  throw new Error(`the agent cannot apply ${dialect} scripts yet (postgresql and mysql/mariadb are supported)`);
}

async function connectPostgres(url: string, timeoutSeconds?: number): Promise<SqlDriver> {
  const client = new pg.Client({ connectionString: url, statement_timeout: timeoutSeconds ? timeoutSeconds * 1000 : undefined, connectionTimeoutMillis: 15000 });
  await client.connect();
  const insert = `INSERT INTO ferry_schema_history (${COLUMNS}, installed_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, current_user)`;
  return {
    transactionalDdl: true,
    async lock() {
      await client.query("SELECT pg_advisory_lock(hashtext('ferry_schema_history'))");
    },
    async ensureHistoryTable() {
      await client.query(`CREATE TABLE IF NOT EXISTS ferry_schema_history (
        installed_rank SERIAL PRIMARY KEY,
        version VARCHAR(50),
        description VARCHAR(200) NOT NULL,
        type VARCHAR(20) NOT NULL,
        filename VARCHAR(1000) NOT NULL,
        sha256 CHAR(64) NOT NULL,
        component VARCHAR(100),
        release VARCHAR(100),
        bundle_id VARCHAR(64),
        installed_by VARCHAR(100) NOT NULL,
        installed_on TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
        execution_time INTEGER NOT NULL,
        success BOOLEAN NOT NULL)`);
    },
    async history() {
      const result = await client.query("SELECT * FROM ferry_schema_history ORDER BY installed_rank");
      return result.rows.map(toRow);
    },
    async runAndRecord(script, row) {
      await client.query("BEGIN");
      try {
        const started = Date.now();
        await client.query(script);
        await client.query(insert, values({ ...row, executionTime: Date.now() - started }));
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    },
    async record(row) {
      await client.query(insert, values(row));
    },
    async close() {
      await client.end().catch(() => undefined);
    },
  };
}

async function connectMysql(url: string, timeoutSeconds?: number): Promise<SqlDriver> {
  const connection = await mysql.createConnection({ uri: url, multipleStatements: true, connectTimeout: 15000 });
  const timeout = timeoutSeconds ? timeoutSeconds * 1000 : undefined;
  const insert = `INSERT INTO ferry_schema_history (${COLUMNS}, installed_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_USER())`;
  return {
    transactionalDdl: false,
    async lock() {
      await connection.query("SELECT GET_LOCK('ferry_schema_history', 3600)");
    },
    async ensureHistoryTable() {
      await connection.query(`CREATE TABLE IF NOT EXISTS ferry_schema_history (
        installed_rank INT AUTO_INCREMENT PRIMARY KEY,
        version VARCHAR(50),
        description VARCHAR(200) NOT NULL,
        type VARCHAR(20) NOT NULL,
        filename VARCHAR(1000) NOT NULL,
        sha256 CHAR(64) NOT NULL,
        component VARCHAR(100),
        \`release\` VARCHAR(100),
        bundle_id VARCHAR(64),
        installed_by VARCHAR(100) NOT NULL,
        installed_on TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        execution_time INT NOT NULL,
        success TINYINT(1) NOT NULL)`);
    },
    async history() {
      const [rows] = await connection.query("SELECT * FROM ferry_schema_history ORDER BY installed_rank");
      return (rows as Array<Record<string, unknown>>).map(toRow);
    },
    async runAndRecord(script, row) {
      await connection.query("START TRANSACTION");
      try {
        const started = Date.now();
        await connection.query({ sql: script, timeout });
        await connection.query(insert.replace("release,", "`release`,"), values({ ...row, executionTime: Date.now() - started }));
        await connection.query("COMMIT");
      } catch (error) {
        await connection.query("ROLLBACK").catch(() => undefined);
        throw error;
      }
    },
    async record(row) {
      await connection.query(insert.replace("release,", "`release`,"), values(row));
    },
    async close() {
      await connection.end().catch(() => undefined);
    },
  };
}
