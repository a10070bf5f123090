/**
 * Builds the blob store the configuration asks for (SPEC §3): a directory under
 * FERRY_DATA_DIR by default, S3/MinIO with FERRY_STORAGE=s3. Buckets are never created
 * here; a missing bucket makes check() (and /readyz) fail with a message naming it.
 */
import path from "node:path";
import type { Config } from "../config.js";
import type { PrismaClient } from "../generated/prisma/client.js";
import type { Logger } from "../logger.js";
import { BlobStore } from "./blob-store.js";
import { FsDriver } from "./fs.driver.js";

export { BlobStore, blobKey, type PutOptions, type PutResult, type BlobStoreOptions } from "./blob-store.js";
export type { ByteRange, StorageDriver } from "./driver.js";

/** Async because the S3 driver (and the ~25 MiB AWS SDK) is only loaded when it is used. */
export async function createBlobStore(config: Config, prisma: PrismaClient, options: { logger?: Logger } = {}): Promise<BlobStore> {
  const logger = options.logger?.child({ domain: "storage" });
  if (config.FERRY_STORAGE === "s3") {
    const { S3_BUCKET: bucket, S3_ACCESS_KEY_ID: accessKeyId, S3_SECRET_ACCESS_KEY: secretAccessKey } = config;
    // loadConfig already requires these with FERRY_STORAGE=s3; this only narrows the types.
    if (!bucket || !accessKeyId || !secretAccessKey) {
      throw new Error("FERRY_STORAGE=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY");
    }
    const { S3Driver } = await import("./s3.driver.js");
    const driver = new S3Driver({
      bucket,
      region: config.S3_REGION,
      endpoint: config.S3_ENDPOINT,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      credentials: { accessKeyId, secretAccessKey },
      prefix: config.S3_PREFIX,
    });
    return new BlobStore(driver, prisma, { logger });
  }
  // A blob directory belongs to one server process (the embedded profile runs jobs in
  // process), so at start-up every temporary file is a crash leftover: no grace period.
  return new BlobStore(new FsDriver(path.join(config.dataDir, "blobs")), prisma, { recoverGraceMs: 0, logger });
}
