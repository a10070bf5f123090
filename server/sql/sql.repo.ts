/** Queries over SqlScript and SqlReview. */
import type { Artifact, Prisma, PrismaClient, SqlReview, SqlScript } from "../generated/prisma/client.js";
import type { SqlStatus } from "./sql.types.js";

export type ScriptWithArtifact = SqlScript & { artifact: Artifact };
export type ScriptDetail = ScriptWithArtifact & { reviews: SqlReview[] };
type Tx = Prisma.TransactionClient | PrismaClient;

export interface ScriptListFilter {
  status?: SqlStatus;
  component?: string;
  database?: string;
  cursor?: string;
  limit: number;
}

export class SqlRepo {
  constructor(private readonly db: PrismaClient) {}

  /** Newest first; `cursor` is the id of the last script of the previous page. */
  async list(filter: ScriptListFilter): Promise<{ items: ScriptWithArtifact[]; nextCursor: string | null }> {
    const where: Prisma.SqlScriptWhereInput = {};
    if (filter.status) where.status = filter.status;
    if (filter.component) where.component = filter.component;
    if (filter.database) where.database = filter.database;
    if (filter.cursor) {
      // Keyset on (createdAt, id) with `createdAt <= cursor` as the index bound. (Prisma's
      // `cursor` option compiles to an OR the planner cannot bound: every page read all
      // newer rows.) An unknown cursor gives an empty page, as that option did.
      const last = await this.db.sqlScript.findUnique({ where: { id: filter.cursor }, select: { createdAt: true } });
      if (!last) return { items: [], nextCursor: null };
      where.createdAt = { lte: last.createdAt };
      where.OR = [{ createdAt: { lt: last.createdAt } }, { createdAt: last.createdAt, id: { lt: filter.cursor } }];
    }
    const rows = await this.db.sqlScript.findMany({
      where,
      include: { artifact: true },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: filter.limit + 1,
    });
    const items = rows.slice(0, filter.limit);
    return { items, nextCursor: rows.length > filter.limit ? (items[items.length - 1]?.id ?? null) : null };
  }

  async exists(id: string): Promise<boolean> {
    return (await this.db.sqlScript.count({ where: { id } })) > 0;
  }

  find(id: string, tx: Tx = this.db): Promise<ScriptDetail | null> {
    return tx.sqlScript.findUnique({ where: { id }, include: { artifact: true, reviews: { orderBy: { createdAt: "asc" } } } });
  }

  /** Other uploads of the same file for the same database: the script's earlier and later versions. */
  lineage(script: ScriptWithArtifact, tx: Tx = this.db): Promise<ScriptWithArtifact[]> {
    return tx.sqlScript.findMany({
      where: {
        id: { not: script.id },
        component: script.component,
        database: script.database,
        dialect: script.dialect,
        artifact: { filename: script.artifact.filename },
      },
      include: { artifact: true },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
  }

  /** Scripts claiming the same place in a database's order (repeatables have none). */
  sameOrder(tx: Tx, key: { database: string; dialect: string; type: string; orderKey: string }): Promise<ScriptWithArtifact[]> {
    return tx.sqlScript.findMany({ where: key, include: { artifact: true } });
  }

  /** The scripts shipped by these component versions, in execution order per database. */
  forComponents(componentVersions: ReadonlyArray<{ name: string; version: string }>, tx: Tx = this.db): Promise<ScriptWithArtifact[]> {
    if (componentVersions.length === 0) return Promise.resolve([]);
    return tx.sqlScript.findMany({
      where: { OR: componentVersions.map((c) => ({ artifact: { component: c.name, version: c.version } })) },
      include: { artifact: true },
      orderBy: [{ database: "asc" }, { dialect: "asc" }, { orderKey: "asc" }, { createdAt: "asc" }],
    });
  }

  /** Serialises uploads into one database's order within a transaction (both PostgreSQL and PGlite). */
  async lockDatabaseOrder(tx: Prisma.TransactionClient, database: string): Promise<void> {
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtext(${`ferry.sql.order:${database}`}))::text AS locked`;
  }
}
