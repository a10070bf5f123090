/** Queries over artifacts. */
import type { Db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";

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

  async list(filter: ArtifactFilter, cursor: string | undefined, limit: number) {
    const after = decodeCursor(cursor);
    const where: Prisma.ArtifactWhereInput = {
      component: filter.component,
      version: filter.version,
      kind: filter.kind,
      ...(filter.q
        ? { OR: [{ filename: { contains: filter.q, mode: "insensitive" } }, { component: { contains: filter.q, mode: "insensitive" } }] }
        : {}),
      ...(after
        ? {
            AND: [
              {
                OR: [
                  { component: { gt: after.component } },
                  { component: after.component, version: { gt: after.version } },
                  { component: after.component, version: after.version, filename: { gt: after.filename } },
                ],
              },
            ],
          }
        : {}),
    };
    const rows = await this.db.artifact.findMany({
      where,
      include: { sqlScript: true },
      orderBy: [{ component: "asc" }, { version: "asc" }, { filename: "asc" }],
      take: limit + 1,
    });
    const items = rows.slice(0, limit);
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
