/**
 * Artifact rules: coordinates are immutable (the same content again is a no-op, other
 * content is refused), the blob is stored and verified before any row exists, and SQL
 * scripts get their review record in the same transaction as their artifact. An upload
 * refused after its bytes were stored (a bad image, a conflict) removes the blobs it
 * created: bad input leaves nothing behind (SPEC §8).
 */
import type { Readable } from "node:stream";
import type { Db } from "../db/client.js";
import { conflict, notFound } from "../errors.js";
import type { Artifact, SqlScript } from "../generated/prisma/client.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { SqlService } from "../sql/sql.service.js";
import type { ImagesService } from "../images/images.service.js";
import { discardUnreferenced } from "../gc/gc.service.js";
import { parseSqlUploadMeta, type SqlUploadMeta } from "../sql/sql.upload.js";
import type { ArtifactKind } from "./artifacts.schema.js";
import { ArtifactsRepo, type Coordinates } from "./artifacts.repo.js";

export interface UploadRequest extends Coordinates {
  kind: ArtifactKind;
  uploadedBy: string;
  contentType?: string;
  expectedSha256?: string;
  /** The body's Content-Length, when announced; only a hint for how to hash it. */
  declaredBytes?: number;
  sql?: { database?: string; dialect?: string; type?: string; orderVersion?: string };
}

export interface UploadResult {
  artifact: Artifact & { sqlScript?: SqlScript | null };
  /** false when identical content already stood at these coordinates */
  created: boolean;
}

/** `created`: this request stored the blob (it is removed again if the upload is refused). */
type StoredBlob = { sha256: string; size: bigint; created?: boolean };

export class ArtifactsService {
  readonly repo: ArtifactsRepo;

  constructor(
    private readonly db: Db,
    private readonly blobs: BlobStore,
    private readonly sql: SqlService,
    private readonly images: ImagesService,
    private readonly maxUploadBytes: number,
  ) {
    this.repo = new ArtifactsRepo(db);
  }

  /**
   * Checks that can refuse an upload before a single byte is read: SQL metadata, and
   * immutability when the checksum is declared up front.
   */
  async precheck(request: UploadRequest): Promise<{ sqlMeta?: SqlUploadMeta; existing?: UploadResult }> {
    const sqlMeta = request.kind === "sql" ? parseSqlUploadMeta(request.filename, request.sql ?? {}) : undefined;
    const existing = await this.repo.find(request);
    if (existing && request.expectedSha256) {
      this.assertSameContent(existing, request.expectedSha256);
      return { sqlMeta, existing: { artifact: existing, created: false } };
    }
    return { sqlMeta };
  }

  /** Streams `body` into the blob store (verifying a declared checksum), then records the artifact. */
  async upload(request: UploadRequest, body: Readable, signal?: AbortSignal): Promise<UploadResult> {
    const { sqlMeta, existing } = await this.precheck(request);
    if (existing) {
      body.resume();
      return existing;
    }
    const blob = await this.blobs.put(body, { expectedSha256: request.expectedSha256, maxBytes: this.maxUploadBytes, expectedBytes: request.declaredBytes, signal });
    return this.record({ request, blob, sqlMeta });
  }

  /** Artifactory's checksum deploy: create the artifact from a blob the server already holds. */
  async deployByChecksum(request: UploadRequest & { expectedSha256: string }): Promise<UploadResult> {
    const { sqlMeta, existing } = await this.precheck(request);
    if (existing) return existing;
    const blob = await this.blobs.has(request.expectedSha256);
    if (!blob) throw notFound("blob", request.expectedSha256);
    return this.record({ request, blob: { sha256: request.expectedSha256, size: blob.size }, sqlMeta });
  }

  /**
   * Records several already-stored blobs (a multipart upload) in one transaction: all or
   * nothing. When it fails, the blobs it was given with `created` and the image parts it
   * stored are removed (unless something references them by now).
   */
  async recordMany(items: Array<{ request: UploadRequest; blob: StoredBlob; sqlMeta?: SqlUploadMeta }>): Promise<UploadResult[]> {
    const created = new Set(items.flatMap((item) => (item.blob.created ? [item.blob.sha256] : [])));
    try {
      return await this.recordAll(items, created);
    } catch (error) {
      await discardUnreferenced({ db: this.db, blobs: this.blobs }, created);
      throw error;
    }
  }

  private async recordAll(items: Array<{ request: UploadRequest; blob: StoredBlob; sqlMeta?: SqlUploadMeta }>, created: Set<string>): Promise<UploadResult[]> {
    const prepared: Array<{
      request: UploadRequest;
      blob: StoredBlob;
      sqlMeta?: SqlUploadMeta;
      findings?: Awaited<ReturnType<SqlService["lint"]>>;
      image?: Awaited<ReturnType<ImagesService["parse"]>>;
      existing: Awaited<ReturnType<ArtifactsRepo["find"]>>;
    }> = [];
    for (const { request, blob, ...known } of items) {
      const sqlMeta = known.sqlMeta ?? (request.kind === "sql" ? parseSqlUploadMeta(request.filename, request.sql ?? {}) : undefined);
      const existing = await this.repo.find(request);
      if (existing) this.assertSameContent(existing, blob.sha256);
      const findings = sqlMeta ? await this.sql.lint(blob.sha256, sqlMeta.dialect) : undefined;
      // Stores the image's layers, config and manifest as blobs; a bad archive fails here, before any row.
      const image = request.kind === "image" && !existing ? await this.images.parse(blob.sha256, request.filename) : undefined;
      for (const sha256 of image?.created ?? []) created.add(sha256);
      prepared.push({ request, blob, sqlMeta, findings, image, existing });
    }
    const results = await this.db.$transaction(async (tx) => {
      const out: UploadResult[] = [];
      for (const item of prepared) {
        if (item.existing) {
          out.push({ artifact: item.existing, created: false });
          continue;
        }
        const artifact = await tx.artifact.create({ data: this.rowFor(item.request, item.blob) });
        const sqlScript = item.sqlMeta ? await this.sql.createForArtifact(tx, artifact, item.sqlMeta, item.findings ?? [], item.request.uploadedBy) : null;
        if (item.image) await this.images.ingestForArtifact(tx, artifact, item.image);
        out.push({ artifact: { ...artifact, sqlScript }, created: true });
      }
      return out;
    });
    for (const result of results) if (result.created && result.artifact.sqlScript) await this.sql.afterCommit(result.artifact.sqlScript);
    return results;
  }

  async remove(coordinates: Coordinates): Promise<Artifact> {
    const artifact = await this.repo.find(coordinates);
    if (!artifact) throw notFound("artifact", `${coordinates.component}/${coordinates.version}/${coordinates.filename}`);
    const releases = await this.repo.sealedReleasesUsing(artifact.id);
    if (releases.length) {
      throw conflict("in_use", `artifact is part of sealed releases: ${releases.map((r) => `${r.product} ${r.version}`).join(", ")}`, { releases });
    }
    // The blob stays: other artifacts or bundles may share it; `ferry gc` collects it when unreferenced.
    return this.repo.delete(artifact.id);
  }

  private async record(item: { request: UploadRequest; blob: StoredBlob; sqlMeta?: SqlUploadMeta }): Promise<UploadResult> {
    const [result] = await this.recordMany([item]).catch(async (error: unknown) => {
      // Another upload of these coordinates committed first: the same content is fine.
      if ((error as { code?: string }).code !== "P2002") throw error;
      const winner = await this.repo.find(item.request);
      if (!winner) throw error;
      this.assertSameContent(winner, item.blob.sha256);
      return [{ artifact: winner, created: false }];
    });
    return result!;
  }

  private rowFor(request: UploadRequest, blob: StoredBlob) {
    return {
      component: request.component,
      version: request.version,
      filename: request.filename,
      kind: request.kind,
      sha256: blob.sha256,
      size: blob.size,
      contentType: request.contentType ?? null,
      uploadedBy: request.uploadedBy,
    };
  }

  private assertSameContent(existing: Artifact, sha256: string): void {
    if (existing.sha256 !== sha256) {
      throw conflict("immutable", `${existing.component}/${existing.version}/${existing.filename} already exists with other content`, {
        existingSha256: existing.sha256,
        sha256,
      });
    }
  }
}
