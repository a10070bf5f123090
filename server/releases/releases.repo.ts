/** Release queries. Sealing is one transaction guarded on `status = 'draft'`, so two seals cannot both win. */
import type { Db } from "../db/client.js";

export interface ComponentRef {
  name: string;
  version: string;
}

export type ArtifactRow = Awaited<ReturnType<ReleasesRepo["artifactsAt"]>>[number];

const withComponents = { components: { orderBy: { position: "asc" } } } as const;

export class ReleasesRepo {
  constructor(private readonly db: Db) {}

  find(product: string, version: string) {
    return this.db.release.findUnique({ where: { product_version: { product, version } }, include: withComponents });
  }

  /** Artifacts currently stored at these component versions. */
  artifactsAt(components: ComponentRef[]) {
    if (!components.length) return Promise.resolve([]);
    return this.db.artifact.findMany({
      where: { OR: components.map((c) => ({ component: c.name, version: c.version })) },
      select: { id: true, component: true, version: true, filename: true, kind: true, sha256: true, size: true },
      orderBy: [{ component: "asc" }, { version: "asc" }, { filename: "asc" }],
    });
  }

  /** The artifact set a sealed release was sealed with. */
  sealedArtifacts(releaseId: string) {
    return this.db.releaseArtifact.findMany({
      where: { releaseId },
      select: { artifact: { select: { id: true, component: true, version: true, filename: true, kind: true, sha256: true, size: true } } },
      orderBy: [{ component: "asc" }, { filename: "asc" }],
    });
  }

  create(data: { product: string; version: string; notes?: string; required: boolean; createdBy: string }, components: ComponentRef[]) {
    return this.db.release.create({
      data: { ...data, components: { create: components.map((c, position) => ({ name: c.name, version: c.version, position })) } },
      include: withComponents,
    });
  }

  /** Applies a change to a draft; returns false when the release is no longer a draft. */
  async updateDraft(id: string, change: { notes?: string | null; required?: boolean; components?: ComponentRef[] }): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.release.updateMany({
        where: { id, status: "draft" },
        data: { ...(change.notes !== undefined ? { notes: change.notes } : {}), ...(change.required !== undefined ? { required: change.required } : {}), updatedAt: new Date() },
      });
      if (count === 0) return false;
      if (change.components) {
        await tx.releaseComponent.deleteMany({ where: { releaseId: id } });
        await tx.releaseComponent.createMany({ data: change.components.map((c, position) => ({ releaseId: id, name: c.name, version: c.version, position })) });
      }
      return true;
    });
  }

  /** Seals a draft with its artifact set; returns false when it was sealed meanwhile. */
  async seal(id: string, seal: { digest: string; sealedBy: string; artifacts: ArtifactRow[] }): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.release.updateMany({
        where: { id, status: "draft" },
        data: { status: "sealed", digest: seal.digest, sealedAt: new Date(), sealedBy: seal.sealedBy },
      });
      if (count === 0) return false;
      await tx.releaseArtifact.createMany({
        data: seal.artifacts.map((a) => ({ releaseId: id, artifactId: a.id, component: a.component, version: a.version, filename: a.filename, sha256: a.sha256 })),
      });
      return true;
    });
  }

  /** Newest first; the cursor is the last row's (createdAt, id). */
  list(filter: { product?: string; status?: string; after?: { createdAt: Date; id: string }; limit: number }) {
    const after = filter.after;
    return this.db.release.findMany({
      where: {
        ...(filter.product ? { product: filter.product } : {}),
        ...(filter.status ? { status: filter.status } : {}),
        // `createdAt <= cursor` bounds the index scan at the cursor; the OR alone cannot be bounded, and every page scanned all newer rows.
        ...(after ? { createdAt: { lte: after.createdAt }, OR: [{ createdAt: { lt: after.createdAt } }, { createdAt: after.createdAt, id: { lt: after.id } }] } : {}),
      },
      include: withComponents,
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: filter.limit + 1,
    });
  }

  /** SQL scripts uploaded under these component versions, in order per database. */
  sqlScriptsOf(components: ComponentRef[]) {
    if (!components.length) return Promise.resolve([]);
    return this.db.sqlScript.findMany({
      where: { OR: components.map((c) => ({ component: c.name, artifact: { version: c.version } })) },
      include: { artifact: { select: { version: true, filename: true, sha256: true } } },
      orderBy: [{ database: "asc" }, { orderKey: "asc" }, { id: "asc" }],
    });
  }
}
