/**
 * Server-side copies. CopyObject handles up to 5 GiB; larger objects are copied as a
 * multipart upload of UploadPartCopy ranges, which S3 completes atomically like any
 * multipart upload. The bytes never pass through Ferry.
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCopyCommand,
  type CompletedPart,
  type S3Client,
} from "@aws-sdk/client-s3";

const GiB = 1024 ** 3;
export const MAX_SINGLE_COPY_BYTES = 5 * GiB;
const MAX_PARTS = 10_000;
const COPY_PART_BYTES = 1 * GiB;
const PARALLEL_PART_COPIES = 4;

/** `x-amz-copy-source`: bucket/key with each segment URL-encoded but the slashes kept (not every server decodes %2F). */
export function copyObjectSource(bucket: string, key: string): string {
  return [bucket, ...key.split("/")].map(encodeURIComponent).join("/");
}

export async function multipartCopy(
  client: S3Client,
  job: { bucket: string; source: string; target: string; size: number; signal?: AbortSignal },
): Promise<void> {
  const { bucket, source, target, size, signal } = job;
  const partBytes = Math.max(COPY_PART_BYTES, Math.ceil(size / MAX_PARTS));
  const created = await client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket, Key: target, ContentType: "application/octet-stream" }),
    { abortSignal: signal },
  );
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error("CreateMultipartUpload returned no UploadId");
  try {
    const ranges: Array<{ partNumber: number; start: number; end: number }> = [];
    for (let start = 0, partNumber = 1; start < size; start += partBytes, partNumber += 1) {
      ranges.push({ partNumber, start, end: Math.min(start + partBytes, size) - 1 });
    }
    const parts: CompletedPart[] = [];
    for (let i = 0; i < ranges.length; i += PARALLEL_PART_COPIES) {
      const batch = ranges.slice(i, i + PARALLEL_PART_COPIES);
      const copied = await Promise.all(
        batch.map(async ({ partNumber, start, end }) => {
          const result = await client.send(
            new UploadPartCopyCommand({
              Bucket: bucket,
              Key: target,
              UploadId: uploadId,
              PartNumber: partNumber,
              CopySource: copyObjectSource(bucket, source),
              CopySourceRange: `bytes=${start}-${end}`,
            }),
            { abortSignal: signal },
          );
          const etag = result.CopyPartResult?.ETag;
          if (!etag) throw new Error(`UploadPartCopy returned no ETag for part ${partNumber}`);
          return { PartNumber: partNumber, ETag: etag };
        }),
      );
      parts.push(...copied);
    }
    await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: target, UploadId: uploadId, MultipartUpload: { Parts: parts } }),
      { abortSignal: signal },
    );
  } catch (error) {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: target, UploadId: uploadId })).catch(() => {});
    throw error;
  }
}
