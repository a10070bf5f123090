/** Queries over artifacts. */
import type { Db } from "../db/client.js";
import { Prisma, type Artifact } from "../generated/prisma/client.js";

export interface Coordinates {
  component: string;
  version: string;
  filename: string;
}

export interface ArtifactFilter {
  component?: string;
  version?: string;
  kind?: string;
  q?: string;
}

/** Keyset cursor over (component, version, filename): stable under concurrent inserts. */
function decodeCursor(cursor: string | undefined): Coordinates | undefined {
  if (!cursor) return undefined;
  try {
    const [component, version, filename] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as string[];
    if (typeof component === "string" && typeof version === "string" && typeof filename === "string") return { component, version, filename };
  } catch {
    // fall through
  }
  return undefined;
}

export function encodeCursor(c: Coordinates): string {
  return Buffer.from(JSON.stringify([c.component, c.version, c.filename])).toString("base64url");
}

export class ArtifactsRepo {
  constructor(private readonly db: Db) {}

  find(c: Coordinates) {
    return this.db.artifact.findUnique({
      where: { component_version_filename: { component: c.component, version: c.version, filename: c.filename } },
      include: { sqlScript: true },
    });
  }

  /**
   * One page in (component, version, filename) order. The cursor is a row-value comparison,
   * `(component, version, filename) > (…)`, which PostgreSQL answers as a range scan of the
   * unique index: every page costs the same however deep it is. (Prisma can only express
   * it as `component > c OR (component = c AND …)`, which the planner cannot bound, so each
   * page scanned every row before it: 46 ms at depth 75,000 of 100,000 artifacts.)
   */
  async list(filter: ArtifactFilter, cursor: string | undefined, limit: number) {
    const after = decodeCursor(cursor);
    const conditions: Prisma.Sql[] = [];
    if (filter.component !== undefined) conditions.push(Prisma.sql`component = ${filter.component}`);
    if (filter.version !== undefined) conditions.push(Prisma.sql`version = ${filter.version}`);
    if (filter.kind !== undefined) conditions.push(Prisma.sql`kind = ${filter.kind}`);
    if (filter.q) {
      // Case-insensitive substring. Coordinates are ASCII and components lower-case (see
      // artifacts.schema.ts), so lower() + LIKE matches what ILIKE would, about 3× faster.
      const pattern = `%${filter.q.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(Prisma.sql`(lower(filename) LIKE ${pattern} OR component LIKE ${pattern})`);
    }
    if (after) conditions.push(Prisma.sql`(component, version, filename) > (${after.component}, ${after.version}, ${after.filename})`);
    const where = conditions.length ? Prisma.sql`WHERE ${Prisma.join(conditions, " AND ")}` : Prisma.empty;
    const rows = await this.db.$queryRaw<Artifact[]>`
      SELECT id, component, version, filename, kind, sha256, size, "contentType", "uploadedBy", "createdAt"
      FROM "Artifact" ${where}
      ORDER BY component, version, filename
      LIMIT ${limit + 1}`;
    const page = rows.slice(0, limit);
    // Only `sql` artifacts have a SqlScript row.
    const scripts = page.some((a) => a.kind === "sql") ? await this.db.sqlScript.findMany({ where: { artifactId: { in: page.map((a) => a.id) } } }) : [];
    const scriptOf = new Map(scripts.map((script) => [script.artifactId, script]));
    const items = page.map((artifact) => ({ ...artifact, sqlScript: scriptOf.get(artifact.id) ?? null }));
    return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1]!) : null };
  }

  /** Sealed releases whose exact artifact set includes this artifact (it cannot be deleted). */
  sealedReleasesUsing(artifactId: string) {
    return this.db.release.findMany({
      where: { status: "sealed", artifacts: { some: { artifactId } } },
      select: { product: true, version: true },
    });
  }

  delete(id: string) {
    return this.db.artifact.delete({ where: { id } });
  }
}
