/** Queries over container images (one per `image` artifact). */
import type { Db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";

interface ImageKey {
  name: string;
  tag: string;
  artifactId: string;
}

function decodeCursor(cursor: string | undefined): ImageKey | undefined {
  if (!cursor) return undefined;
  try {
    const [name, tag, artifactId] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown[];
    if (typeof name === "string" && typeof tag === "string" && typeof artifactId === "string") return { name, tag, artifactId };
  } catch {
    // an unreadable cursor starts from the beginning, as for artifacts
  }
  return undefined;
}

const encodeCursor = (k: ImageKey) => Buffer.from(JSON.stringify([k.name, k.tag, k.artifactId])).toString("base64url");

const withArtifact = { artifact: { select: { component: true, version: true, filename: true, sha256: true, size: true } } } as const;

export type ImageRow = Prisma.ContainerImageGetPayload<{ include: typeof withArtifact }>;

export class ImagesRepo {
  constructor(private readonly db: Db) {}

  /** Keyset paging over (name, tag, artifactId): stable under concurrent uploads. */
  async list(filter: { name?: string }, cursor: string | undefined, limit: number): Promise<{ items: ImageRow[]; nextCursor: string | null }> {
    const after = decodeCursor(cursor);
    const where: Prisma.ContainerImageWhereInput = {
      name: filter.name,
      ...(after
        ? {
            OR: [
              { name: { gt: after.name } },
              { name: after.name, tag: { gt: after.tag } },
              { name: after.name, tag: after.tag, artifactId: { gt: after.artifactId } },
            ],
          }
        : {}),
    };
    const rows = await this.db.containerImage.findMany({
      where,
      include: withArtifact,
      orderBy: [{ name: "asc" }, { tag: "asc" }, { artifactId: "asc" }],
      take: limit + 1,
    });
    const items = rows.slice(0, limit);
    return { items, nextCursor: rows.length > limit ? encodeCursor(items[items.length - 1]!) : null };
  }

  find(artifactId: string): Promise<ImageRow | null> {
    return this.db.containerImage.findUnique({ where: { artifactId }, include: withArtifact });
  }
}
