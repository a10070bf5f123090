/**
 * S3 driver (AWS S3, MinIO or any S3-compatible store): an endpoint, a bucket and a key
 * prefix. Uses only standard S3 calls; MinIO needs nothing but `forcePathStyle`.
 *
 * Atomicity comes from S3 itself: a PutObject or a multipart upload becomes visible only
 * when it completes, all at once. lib-storage's `Upload` only completes after it has read
 * the body to its end, so a body that errors at its end (the blob store's checksum check)
 * leaves no object. Staged bytes live under `<prefix>tmp/` and are published with a
 * server-side copy, so they never travel through this process twice.
 */
import { randomUUID } from "node:crypto";
import { addAbortSignal, Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { unavailable } from "../errors.js";
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  RESERVED_PREFIX,
  type ByteRange,
  type ObjectEntry,
  type ObjectStat,
  type SignalOption,
  type StagedObject,
  type StorageDriver,
  type SweepReport,
} from "./driver.js";
import { copyObjectSource, multipartCopy, MAX_SINGLE_COPY_BYTES } from "./s3.copy.js";
import { isS3NotFound, isS3NotImplemented, mapS3Error } from "./s3.errors.js";

export interface S3DriverOptions {
  bucket: string;
  region: string;
  /** Custom endpoint (MinIO, other S3-compatible stores); AWS when unset. */
  endpoint?: string;
  forcePathStyle?: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Every key is stored under this prefix ("ferry/" or ""), so a bucket can be shared. */
  prefix?: string;
  /** Multipart part size. Memory per upload is about (queueSize + 1) × partSize. */
  partSize?: number;
  queueSize?: number;
}

const MiB = 1024 * 1024;
const STAGED_ID = /^[0-9a-f-]{36}$/;

export class S3Driver implements StorageDriver {
  readonly kind = "s3" as const;
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3DriverOptions) {
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix ?? "");
    this.partSize = options.partSize ?? 8 * MiB;
    this.queueSize = options.queueSize ?? 4;
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      // The SDK's default (WHEN_SUPPORTED) sends streaming bodies aws-chunked with trailing
      // checksums, which several S3-compatible stores save framing and all into the object.
      // Ferry verifies SHA-256 itself on every path, so the store's checksums add nothing.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
      // Fail fast on an unreachable endpoint; drop sockets idle for minutes (a hung store).
      // A download holds its socket for as long as the client takes to read it, so allow
      // more of them than the SDK's 50 before requests start queueing.
      requestHandler: {
        connectionTimeout: 5_000,
        socketTimeout: 300_000,
        httpAgent: { keepAlive: true, maxSockets: 256 },
        httpsAgent: { keepAlive: true, maxSockets: 256 },
      },
    });
  }

  get location(): string {
    return `s3://${this.bucket}/${this.prefix}`;
  }

  async put(key: string, body: Readable, options: SignalOption = {}): Promise<void> {
    assertValidKey(key);
    await this.upload(this.objectKey(key), body, options.signal);
  }

  async stage(body: Readable, options: SignalOption = {}): Promise<StagedObject> {
    const id = randomUUID();
    await this.upload(this.stagedKey(id), body, options.signal);
    return { id };
  }

  async publish(staged: StagedObject, key: string, options: SignalOption = {}): Promise<void> {
    assertValidKey(key);
    const source = this.stagedKey(staged.id);
    const target = this.objectKey(key);
    const signal = options.signal;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: source }), { abortSignal: signal });
      const size = head.ContentLength ?? 0;
      if (size <= MAX_SINGLE_COPY_BYTES) {
        await this.client.send(
          new CopyObjectCommand({ Bucket: this.bucket, Key: target, CopySource: copyObjectSource(this.bucket, source) }),
          { abortSignal: signal },
        );
      } else {
        await multipartCopy(this.client, { bucket: this.bucket, source, target, size, signal });
      }
    } catch (error) {
      throw mapS3Error(error, { bucket: this.bucket, key: source });
    }
    // Published; a staging copy that fails to go away now is only garbage for sweep().
    await this.discard(staged).catch(() => {});
  }

  async discard(staged: StagedObject): Promise<void> {
    await this.deleteObject(this.stagedKey(staged.id));
  }

  async get(key: string, options: { range?: ByteRange } & SignalOption = {}): Promise<Readable> {
    assertValidKey(key);
    const { range, signal } = options;
    if (range) assertValidRange(range);
    try {
      const output = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
        { abortSignal: signal },
      );
      const body = output.Body;
      if (!(body instanceof Readable)) throw new Error("S3 GetObject returned no Node.js stream");
      // The SDK's signal only covers the request; this one also ends the body stream.
      return signal ? addAbortSignal(signal, body) : body;
    } catch (error) {
      throw mapS3Error(error, { bucket: this.bucket, key });
    }
  }

  async stat(key: string, options: SignalOption = {}): Promise<ObjectStat | null> {
    assertValidKey(key);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), {
        abortSignal: options.signal,
      });
      return { size: head.ContentLength ?? 0, modified: head.LastModified ?? new Date(0) };
    } catch (error) {
      if (isS3NotFound(error)) return null;
      throw mapS3Error(error, { bucket: this.bucket });
    }
  }

  async delete(key: string, options: SignalOption = {}): Promise<void> {
    assertValidKey(key);
    await this.deleteObject(this.objectKey(key), options.signal);
  }

  async *list(prefix: string, options: SignalOption = {}): AsyncIterable<ObjectEntry> {
    assertValidPrefix(prefix);
    for await (const entry of this.listRaw(this.prefix + prefix, options.signal)) {
      const key = entry.key.slice(this.prefix.length);
      if (!key.startsWith(RESERVED_PREFIX)) yield { ...entry, key };
    }
  }

  /**
   * Staging objects are dated by their completion and live for one server-side copy, so any
   * older than `olderThan` are leftovers. Multipart uploads are dated by their start: the
   * grace period the blob store passes must outlast the longest upload another server may
   * still be running.
   */
  async sweep(olderThan: Date, options: SignalOption = {}): Promise<SweepReport> {
    const report: SweepReport = { removed: 0, unsupported: [] };
    for await (const entry of this.listRaw(this.prefix + RESERVED_PREFIX, options.signal)) {
      if (entry.modified.getTime() > olderThan.getTime()) continue;
      await this.deleteObject(entry.key, options.signal);
      report.removed += 1;
    }
    try {
      let keyMarker: string | undefined;
      let uploadIdMarker: string | undefined;
      do {
        const page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix || undefined,
            KeyMarker: keyMarker,
            UploadIdMarker: uploadIdMarker,
          }),
          { abortSignal: options.signal },
        );
        for (const upload of page.Uploads ?? []) {
          if (!upload.Key || !upload.UploadId || !upload.Initiated) continue;
          if (upload.Initiated.getTime() > olderThan.getTime()) continue;
          await this.abortMultipartUpload(upload.Key, upload.UploadId);
          report.removed += 1;
        }
        keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
        uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
      } while (keyMarker);
    } catch (error) {
      // Some S3-compatible servers cannot list uploads; a bucket lifecycle rule
      // (AbortIncompleteMultipartUpload) is then the only cleanup, so say so.
      if (!isS3NotImplemented(error)) throw mapS3Error(error, { bucket: this.bucket });
      report.unsupported.push("multipart uploads");
    }
    return report;
  }

  async check(options: SignalOption = {}): Promise<void> {
    const timeout = AbortSignal.timeout(10_000);
    const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }), { abortSignal: signal });
    } catch (error) {
      const mapped = mapS3Error(error, { bucket: this.bucket });
      if (mapped !== error) throw mapped;
      // Readiness wants a yes or no: a 404 on HeadBucket, a timeout or anything else all mean "not usable".
      const reason = isS3NotFound(error) ? `bucket ${this.bucket} does not exist` : (error as Error).message || String(error);
      throw unavailable("storage_unavailable", `object storage is unavailable: ${reason}`);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async upload(objectKey: string, body: Readable, signal: AbortSignal | undefined): Promise<void> {
    // Keep the body's own error (a checksum mismatch, a client that went away): lib-storage
    // reports it too, but a failed cleanup must never mask it.
    let bodyError: unknown;
    body.once("error", (error) => (bodyError = error));
    if (signal) addAbortSignal(signal, body);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: body, ContentType: "application/octet-stream" },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // Abort ourselves, after lib-storage has waited for its in-flight parts, so that a
      // failing AbortMultipartUpload cannot replace the original error.
      leavePartsOnError: true,
    });
    try {
      await upload.done();
    } catch (error) {
      body.destroy();
      if (upload.uploadId) await this.abortMultipartUpload(objectKey, upload.uploadId);
      throw mapS3Error(bodyError ?? error, { bucket: this.bucket });
    }
  }

  /** Best effort: an upload that was never completed is invisible; sweep() retries later. */
  private async abortMultipartUpload(objectKey: string, uploadId: string): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }))
      .catch(() => {});
  }

  private async deleteObject(objectKey: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }), { abortSignal: signal });
    } catch (error) {
      if (isS3NotFound(error)) return;
      throw mapS3Error(error, { bucket: this.bucket });
    }
  }

  private async *listRaw(fullPrefix: string, signal?: AbortSignal): AsyncIterable<ObjectEntry> {
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: fullPrefix || undefined, ContinuationToken: token }),
          { abortSignal: signal },
        );
      } catch (error) {
        throw mapS3Error(error, { bucket: this.bucket });
      }
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        yield { key: object.Key, size: object.Size ?? 0, modified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  private objectKey(key: string): string {
    return this.prefix + key;
  }

  private stagedKey(id: string): string {
    if (!STAGED_ID.test(id)) throw new Error(`invalid staged object id "${id}"`);
    return `${this.prefix}${RESERVED_PREFIX}${id}`;
  }
}

/** "" stays "", anything else gets exactly one trailing slash and no leading one. */
function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, "");
  return trimmed ? `${trimmed}/` : "";
}
