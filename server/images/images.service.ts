/**
 * Container images: an `image` artifact (docker save or OCI layout tarball) is parsed
 * before the artifact's transaction (`parse`, which stores each layer, config and manifest
 * as a blob of its own) and recorded inside it (`ingestForArtifact`), the way SQL scripts
 * are linted first and recorded with their artifact.
 */
import type { Db } from "../db/client.js";
import { notFound } from "../errors.js";
import type { Artifact, ContainerImage, Prisma } from "../generated/prisma/client.js";
import type { BlobStore } from "../storage/blob-store.js";
import { discardUnreferenced } from "../gc/gc.service.js";
import { ingestImageArchive, type ParsedImage } from "./image-archive.js";
import { ImagesRepo, type ImageRow } from "./images.repo.js";

export type { ParsedImage } from "./image-archive.js";

export class ImagesService {
  readonly repo: ImagesRepo;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly maxUploadBytes: number,
  ) {
    this.repo = new ImagesRepo(db);
  }

  /**
   * Reads the stored archive `sha256` and stores its parts as blobs. Throws 400
   * `invalid_image` or `image_name_required`, having removed the blobs it stored; nothing
   * is recorded either way. `created` lists the blobs it stored, for the caller to remove
   * should recording the artifact fail.
   */
  async parse(sha256: string, filename: string): Promise<ParsedImage & { created: string[] }> {
    const created: string[] = [];
    try {
      const parsed = await ingestImageArchive(this.blobs, sha256, {
        filename,
        maxBytes: this.maxUploadBytes,
        onStored: (blob) => {
          if (blob.created) created.push(blob.sha256);
        },
      });
      return { ...parsed, created };
    } catch (error) {
      await discardUnreferenced({ db: this.db, blobs: this.blobs }, created);
      throw error;
    }
  }

  /** Records a parsed image for its just-created artifact, inside the artifact's transaction. */
  async ingestForArtifact(tx: Prisma.TransactionClient, artifact: Artifact, parsed: ParsedImage): Promise<ContainerImage> {
    await tx.artifactBlob.createMany({
      data: parsed.parts.map((part) => ({ artifactId: artifact.id, sha256: part.sha256, role: part.role, mediaType: part.mediaType })),
      skipDuplicates: true,
    });
    return tx.containerImage.create({
      data: {
        artifactId: artifact.id,
        name: parsed.name,
        tag: parsed.tag,
        manifestDigest: parsed.manifest.digest,
        configDigest: parsed.config.digest,
        layers: parsed.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })),
      },
    });
  }

  list(filter: { name?: string }, cursor: string | undefined, limit: number) {
    return this.repo.list(filter, cursor, limit);
  }

  async get(artifactId: string): Promise<ImageRow> {
    const image = await this.repo.find(artifactId);
    if (!image) throw notFound("image", artifactId);
    return image;
  }

  /** The images of the given artifacts (bundles use this to lay out `images/`). */
  forArtifacts(artifactIds: string[]): Promise<ContainerImage[]> {
    return this.db.containerImage.findMany({ where: { artifactId: { in: artifactIds } }, orderBy: [{ name: "asc" }, { tag: "asc" }, { artifactId: "asc" }] });
  }
}
