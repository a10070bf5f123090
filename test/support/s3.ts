/**
 * A real S3 endpoint for tests: FERRY_TEST_S3_ENDPOINT when set (CI runs s3rver as its own
 * process with test/support/s3rver-main.ts, or points at a MinIO), otherwise s3rver started
 * in this process on a free loopback port with a throw-away directory.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";

export interface TestS3 {
  endpoint: string;
  close(): Promise<void>;
}

/** s3rver's built-in account; override for another server with FERRY_TEST_S3_ACCESS_KEY_ID/_SECRET_ACCESS_KEY. */
export const testS3Credentials = {
  accessKeyId: process.env.FERRY_TEST_S3_ACCESS_KEY_ID ?? "S3RVER",
  secretAccessKey: process.env.FERRY_TEST_S3_SECRET_ACCESS_KEY ?? "S3RVER",
};

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  resetOnClose?: boolean;
}) => S3rverInstance;

interface FilesystemStorePrototype {
  getResourcePath(bucket: string, key: string, resource: string): string;
  deleteObject(bucket: string, key: string): Promise<void>;
}

/**
 * s3rver is CommonJS without type declarations; this is the part of it the tests use.
 *
 * Patched once: s3rver's deleteObject removes the folders a delete leaves empty, and that races
 * with a concurrent PUT into the same folder (its mkdir done, its file not yet opened): the
 * write fails with ENOENT on a stream nobody listens to, and the whole S3 server process
 * dies. Ferry deletes staged `tmp/<uuid>` objects while other uploads stage beside them, so
 * CI hit it. Real S3 has no folders; here the empty ones are simply left.
 */
export function loadS3rver(): S3rverConstructor {
  const require = createRequire(import.meta.url);
  const store = (require("s3rver/lib/stores/filesystem") as { prototype: FilesystemStorePrototype }).prototype;
  store.deleteObject = async function deleteObjectKeepingFolders(this: FilesystemStorePrototype, bucket: string, key: string) {
    const files = ["object", "object.md5", "metadata.json"].map((resource) => this.getResourcePath(bucket, key, resource));
    await Promise.all(
      files.map((file) =>
        unlink(file).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== "ENOENT") throw error;
        }),
      ),
    );
  };
  return require("s3rver") as S3rverConstructor;
}

export async function startS3(): Promise<TestS3> {
  const external = process.env.FERRY_TEST_S3_ENDPOINT;
  if (external) return { endpoint: external.replace(/\/+$/, ""), close: async () => {} };
  const directory = mkdtempSync(path.join(tmpdir(), "ferry-s3rver-"));
  const S3rver = loadS3rver();
  const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async close() {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** An SDK client for the test endpoint, configured like Ferry's own. Destroy it when done. */
export function testS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: testS3Credentials,
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
  });
}

export async function createBucket(endpoint: string, name: string): Promise<void> {
  const client = testS3Client(endpoint);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }));
  } catch (error) {
    if ((error as { name?: string }).name !== "BucketAlreadyOwnedByYou") throw error;
  } finally {
    client.destroy();
  }
}
