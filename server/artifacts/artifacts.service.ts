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
import { inTransaction, whenSettled } from "../db/transaction-scope.js";
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
type UploadItem = { request: UploadRequest; blob: StoredBlob; sqlMeta?: SqlUploadMeta };
interface PreparedUpload extends UploadItem {
  findings?: Awaited<ReturnType<SqlService["lint"]>>;
  image?: Awaited<ReturnType<ImagesService["parse"]>>;
  existing: Awaited<ReturnType<ArtifactsRepo["find"]>>;
}
/** Uploads checked and stored, not recorded yet; `created`: blobs to remove if they never are. */
export interface PreparedUploads {
  items: PreparedUpload[];
  created: Set<string>;
}
/** An upload whose bytes are stored and checked, and whose artifact is not recorded yet (or was already there). */
export type StagedUpload = { existing: UploadResult } | { prepared: PreparedUploads };

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

  /**
   * Streams `body` into the blob store (verifying a declared checksum): all of an upload
   * but recording the artifact, which `record` does (inside the route's transaction, with
   * its audit event). Same coordinates with the same declared checksum read nothing.
   */
  async stage(request: UploadRequest, body: Readable, signal?: AbortSignal): Promise<StagedUpload> {
    const { sqlMeta, existing } = await this.precheck(request);
    if (existing) {
      body.resume();
      return { existing };
    }
    const blob = await this.blobs.put(body, { expectedSha256: request.expectedSha256, maxBytes: this.maxUploadBytes, expectedBytes: request.declaredBytes, signal });
    return { prepared: await this.prepare([{ request, blob, sqlMeta }]) };
  }

  /** Artifactory's checksum deploy: stages an upload from a blob the server already holds. */
  async stageByChecksum(request: UploadRequest & { expectedSha256: string }): Promise<StagedUpload> {
    const { sqlMeta, existing } = await this.precheck(request);
    if (existing) return { existing };
    const blob = await this.blobs.has(request.expectedSha256);
    if (!blob) throw notFound("blob", request.expectedSha256);
    return { prepared: await this.prepare([{ request, blob: { sha256: request.expectedSha256, size: blob.size }, sqlMeta }]) };
  }

  /** Records the artifact a staged upload stored (nothing when it was already there). */
  async record(staged: StagedUpload): Promise<UploadResult> {
    if ("existing" in staged) return staged.existing;
    const [result] = await this.recordPrepared(staged.prepared).catch(async (error: unknown) => {
      // Another upload of these coordinates committed first: the same content is fine.
      if ((error as { code?: string }).code !== "P2002") throw error;
      const { request, blob } = staged.prepared.items[0]!;
      const winner = await this.repo.find(request);
      if (!winner) throw error;
      this.assertSameContent(winner, blob.sha256);
      return [{ artifact: winner, created: false }];
    });
    return result!;
  }

  /**
   * The slow checks of stored uploads, done before their transaction so that none is held
   * open meanwhile: immutability, SQL lint, and an image's layers, config and manifest
   * stored as blobs (a bad archive fails here, before any row). When it fails, the blobs it
   * was given with `created` and the image parts it stored are removed again (unless
   * something references them by now).
   */
  async prepare(items: UploadItem[]): Promise<PreparedUploads> {
    const created = new Set(items.flatMap((item) => (item.blob.created ? [item.blob.sha256] : [])));
    const prepared: PreparedUpload[] = [];
    try {
      for (const { request, blob, ...known } of items) {
        const sqlMeta = known.sqlMeta ?? (request.kind === "sql" ? parseSqlUploadMeta(request.filename, request.sql ?? {}) : undefined);
        const existing = await this.repo.find(request);
        if (existing) this.assertSameContent(existing, blob.sha256);
        const findings = sqlMeta ? await this.sql.lint(blob.sha256, sqlMeta.dialect) : undefined;
        const image = request.kind === "image" && !existing ? await this.images.parse(blob.sha256, request.filename) : undefined;
        for (const sha256 of image?.created ?? []) created.add(sha256);
        prepared.push({ request, blob, sqlMeta, findings, image, existing });
      }
    } catch (error) {
      await discardUnreferenced({ db: this.db, blobs: this.blobs }, created);
      throw error;
    }
    return { items: prepared, created };
  }

  /**
   * Records prepared uploads (a multipart upload's files) in one transaction (a savepoint of
   * the request's, inside one): all or nothing. Once that transaction has ended, committed or
   * not, the blobs they stored that no row refers to are removed.
   */
  async recordPrepared(prepared: PreparedUploads): Promise<UploadResult[]> {
    const results = await inTransaction(this.db, async () => {
      await whenSettled(() => discardUnreferenced({ db: this.db, blobs: this.blobs }, prepared.created));
      const out: UploadResult[] = [];
      for (const item of prepared.items) {
        if (item.existing) {
          out.push({ artifact: item.existing, created: false });
          continue;
        }
        const artifact = await this.db.artifact.create({ data: this.rowFor(item.request, item.blob) });
        const sqlScript = item.sqlMeta ? await this.sql.createForArtifact(this.db, artifact, item.sqlMeta, item.findings ?? [], item.request.uploadedBy) : null;
        if (item.image) await this.images.ingestForArtifact(this.db, artifact, item.image);
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
