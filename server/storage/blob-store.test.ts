/**
 * One suite, run against both drivers: the fs driver in a temporary directory and the S3
 * driver against a real S3 endpoint (in-process s3rver, or FERRY_TEST_S3_ENDPOINT), both
 * over a real database (PGlite in memory, migrated). Nothing is mocked.
 *
 *   npx tsx --test server/storage/blob-store.test.ts
 */
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { after, before, beforeEach, describe, test } from "node:test";
import {
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { openDatabase, type Database } from "../db/client.js";
import { AppError } from "../errors.js";
import { createBucket, startS3, testS3Client, testS3Credentials, type TestS3 } from "../../test/support/s3.js";
import { BlobStore, blobKey, type BlobStoreOptions } from "./blob-store.js";
import { FsDriver } from "./fs.driver.js";
import { S3Driver } from "./s3.driver.js";
import { v8Collector } from "../util/young-gc.js";

const MiB = 1024 * 1024;

/** One isolated storage location (a directory, or a key prefix in the bucket) per test. */
interface Location {
  store: BlobStore;
  /** Another store over the same storage and database: a second server process. */
  secondStore(options?: BlobStoreOptions): BlobStore;
  /** Every key in this location, drivers' temporary data included. */
  rawKeys(): Promise<string[]>;
  /** Replaces a stored object's bytes behind the store's back. */
  overwrite(key: string, content: Buffer): Promise<void>;
  /** Leaves what a crashed upload would leave in the driver's temporary area. */
  plantLeftover(): Promise<string>;
  close(): Promise<void>;
}

interface DriverHarness {
  name: "fs" | "s3";
  setUp(): Promise<void>;
  /** `multipart` tunes the S3 driver's buffering (ignored by fs). */
  location(multipart?: { partSize: number; queueSize: number }): Promise<Location>;
  tearDown(): Promise<void>;
}

let db: Database;
const dbDir = mkdtempSync(path.join(tmpdir(), "ferry-storage-db-"));

before(async () => {
  db = await openDatabase({ dataDir: dbDir, inMemory: true });
  await db.migrate();
});

after(async () => {
  await db.close();
  rmSync(dbDir, { recursive: true, force: true });
});

function fsHarness(): DriverHarness {
  let base: string;
  const stores: BlobStore[] = [];
  return {
    name: "fs",
    async setUp() {
      base = mkdtempSync(path.join(tmpdir(), "ferry-blobs-"));
    },
    async location() {
      const root = path.join(base, randomUUID());
      const make = (opts?: BlobStoreOptions) => {
        const store = new BlobStore(new FsDriver(root), db.prisma, { recoverGraceMs: 0, ...opts });
        stores.push(store);
        return store;
      };
      return {
        store: make(),
        secondStore: make,
        rawKeys: () => walkFiles(root),
        async overwrite(key, content) {
          await writeFile(path.join(root, key), content);
        },
        async plantLeftover() {
          await mkdir(path.join(root, "tmp"), { recursive: true });
          const name = randomUUID();
          await writeFile(path.join(root, "tmp", name), randomBytes(1000));
          return `tmp/${name}`;
        },
        async close() {},
      };
    },
    async tearDown() {
      for (const store of stores) await store.close();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

function s3Harness(): DriverHarness {
  let s3: TestS3;
  let admin: S3Client;
  const bucket = `ferry-storage-${randomBytes(4).toString("hex")}`;
  const stores: BlobStore[] = [];
  const driverFor = (prefix: string, multipart?: { partSize: number; queueSize: number }) =>
    new S3Driver({
      bucket,
      prefix,
      region: "us-east-1",
      endpoint: s3.endpoint,
      forcePathStyle: true,
      credentials: testS3Credentials,
      ...multipart,
    });
  return {
    name: "s3",
    async setUp() {
      s3 = await startS3();
      await createBucket(s3.endpoint, bucket);
      admin = testS3Client(s3.endpoint);
    },
    async location(multipart) {
      const prefix = `t-${randomUUID()}/`;
      const make = (opts?: BlobStoreOptions) => {
        const store = new BlobStore(driverFor(prefix, multipart), db.prisma, { recoverGraceMs: 0, ...opts });
        stores.push(store);
        return store;
      };
      return {
        store: make(),
        secondStore: make,
        async rawKeys() {
          const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
          return (listed.Contents ?? []).map((object) => object.Key!.slice(prefix.length)).sort();
        },
        async overwrite(key, content) {
          await admin.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: content }));
        },
        async plantLeftover() {
          const key = `tmp/${randomUUID()}`;
          await admin.send(new PutObjectCommand({ Bucket: bucket, Key: prefix + key, Body: randomBytes(1000) }));
          return key;
        },
        async close() {},
      };
    },
    async tearDown() {
      for (const store of stores) await store.close();
      admin.destroy();
      await s3.close();
    },
  };
}

async function walkFiles(root: string, relative = ""): Promise<string[]> {
  const entries = await readdir(path.join(root, relative), { withFileTypes: true }).catch(() => []);
  const files: string[] = [];
  for (const entry of entries) {
    const key = relative ? `${relative}/${entry.name}` : entry.name;
    if (entry.isDirectory()) files.push(...(await walkFiles(root, key)));
    else files.push(key);
  }
  return files.sort();
}

const sha256 = (content: Buffer) => createHash("sha256").update(content).digest("hex");

/** A stream of `content` in small chunks, the way an HTTP request body arrives. */
function streamOf(content: Buffer, chunkSize = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < content.length; offset += chunkSize) chunks.push(content.subarray(offset, offset + chunkSize));
  return Readable.from(chunks, { objectMode: false });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads a stream to its end or error, counting what arrived before either. */
async function drain(stream: Readable): Promise<{ received: number; error?: unknown }> {
  let received = 0;
  try {
    for await (const chunk of stream) received += (chunk as Buffer).length;
    return { received };
  } catch (error) {
    return { received, error };
  }
}

function assertAppError(error: unknown, status: number, code: string): AppError {
  assert.ok(error instanceof AppError, `expected AppError ${code}, got ${String(error)}`);
  assert.equal(error.status, status);
  assert.equal(error.code, code);
  return error;
}

async function blobRows(): Promise<Array<{ sha256: string; size: bigint }>> {
  return db.prisma.blob.findMany({ select: { sha256: true, size: true }, orderBy: { sha256: "asc" } });
}

for (const harness of [fsHarness(), s3Harness()]) {
  describe(`BlobStore over the ${harness.name} driver`, () => {
    let at: Location;

    before(() => harness.setUp());
    after(() => harness.tearDown());
    beforeEach(async () => {
      await db.prisma.artifact.deleteMany();
      await db.prisma.blob.deleteMany();
      at = await harness.location();
    });

    test("stores content under its SHA-256 and streams it back", async () => {
      const content = randomBytes(300 * 1024);
      const digest = sha256(content);

      const result = await at.store.put(streamOf(content));

      assert.deepEqual(result, { sha256: digest, size: BigInt(content.length), created: true });
      assert.deepEqual(await at.store.has(digest), { size: BigInt(content.length) });
      assert.deepEqual(await at.store.has(digest.toUpperCase()), { size: BigInt(content.length) });
      assert.equal(await at.store.has(sha256(Buffer.from("other"))), null);
      assert.equal(await at.store.has("not-a-digest"), null);
      assert.deepEqual(await readAll(await at.store.open(digest)), content);
      assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
      assert.deepEqual(await blobRows(), [{ sha256: digest, size: BigInt(content.length) }]);
    });

    test("stores empty content", async () => {
      const result = await at.store.put(Readable.from([]));
      assert.equal(result.sha256, sha256(Buffer.alloc(0)));
      assert.equal(result.size, 0n);
      assert.deepEqual(await readAll(await at.store.open(result.sha256)), Buffer.alloc(0));
    });

    test("accepts a declared checksum that matches, in any case", async () => {
      const content = randomBytes(50_000);
      const digest = sha256(content);

      const result = await at.store.put(streamOf(content), { expectedSha256: digest.toUpperCase() });

      assert.deepEqual(result, { sha256: digest, size: 50_000n, created: true });
      assert.deepEqual(await readAll(await at.store.open(digest)), content);
      assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
    });

    for (const size of [40_000, 9 * MiB]) {
      // 9 MiB is above the S3 driver's 8 MiB part size: a multipart upload that must not complete.
      test(`a declared checksum that does not match keeps nothing (${size} bytes)`, async () => {
        const content = randomBytes(size);
        const declared = sha256(Buffer.from("something else"));

        const error = await at.store.put(streamOf(content), { expectedSha256: declared }).catch((e: unknown) => e);

        const appError = assertAppError(error, 400, "checksum_mismatch");
        assert.deepEqual(appError.details, { expected: declared, actual: sha256(content) });
        assert.deepEqual(await at.rawKeys(), []);
        assert.deepEqual(await blobRows(), []);
      });
    }

    test("a declared checksum naming a stored blob is still verified against the bytes", async () => {
      const stored = randomBytes(10_000);
      const digest = sha256(stored);
      await at.store.put(streamOf(stored));

      const error = await at.store.put(streamOf(randomBytes(10_000)), { expectedSha256: digest }).catch((e: unknown) => e);

      assertAppError(error, 400, "checksum_mismatch");
      assert.deepEqual(await readAll(await at.store.open(digest)), stored);
      assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
    });

    test("rejects a malformed declared checksum before reading", async () => {
      const input = streamOf(randomBytes(100));
      const error = await at.store.put(input, { expectedSha256: "abc" }).catch((e: unknown) => e);
      assertAppError(error, 400, "invalid_checksum");
      assert.deepEqual(await at.rawKeys(), []);
    });

    test("stores the same content once", async () => {
      const content = randomBytes(20_000);
      const digest = sha256(content);

      const first = await at.store.put(streamOf(content));
      const second = await at.store.put(streamOf(content));
      const declared = await at.store.put(streamOf(content), { expectedSha256: digest });

      assert.equal(first.created, true);
      assert.deepEqual(second, { sha256: digest, size: 20_000n, created: false });
      assert.deepEqual(declared, { sha256: digest, size: 20_000n, created: false });
      assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
      assert.equal((await blobRows()).length, 1);
    });

    for (const declared of [false, true]) {
      test(`concurrent uploads of one content from two processes end in one blob (${declared ? "declared" : "undeclared"} checksum)`, async () => {
        const content = randomBytes(2 * MiB);
        const digest = sha256(content);
        const other = at.secondStore();
        const options = declared ? { expectedSha256: digest } : {};

        const results = await Promise.all([
          at.store.put(streamOf(content), options),
          other.put(streamOf(content), options),
          at.store.put(streamOf(content), options),
        ]);

        for (const result of results) assert.equal(result.sha256, digest);
        assert.equal(results.filter((result) => result.created).length, 1, "exactly one upload created the blob");
        assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
        assert.deepEqual(await blobRows(), [{ sha256: digest, size: BigInt(content.length) }]);
        assert.deepEqual(await readAll(await other.open(digest)), content);
      });
    }

    for (const declared of [false, true]) {
      test(`content over maxBytes keeps nothing and leaves the input to the caller (${declared ? "declared" : "undeclared"} checksum)`, async () => {
        const content = randomBytes(9 * MiB);
        const checksum = declared ? { expectedSha256: sha256(content) } : {};

        const input = streamOf(content);
        const early = await at.store.put(input, { maxBytes: MiB, ...checksum }).catch((e: unknown) => e);
        assertAppError(early, 413, "payload_too_large");
        assert.equal(input.destroyed, false, "the caller's stream is not destroyed");
        assert.equal(input.readableFlowing, false, "the caller's stream is paused");
        assert.ok((await readAll(input)).length > 0, "the rest of the input can still be read by the caller");

        // One byte over, after a multipart upload to S3 has already sent most of its parts.
        const late = await at.store.put(streamOf(content), { maxBytes: content.length - 1, ...checksum }).catch((e: unknown) => e);
        assertAppError(late, 413, "payload_too_large");
        assert.deepEqual(await at.rawKeys(), []);
        assert.deepEqual(await blobRows(), []);

        const exact = await at.store.put(streamOf(content), { maxBytes: content.length, ...checksum });
        assert.equal(exact.size, BigInt(content.length));
      });
    }

    test("an input that fails mid-way keeps nothing", async () => {
      const input = new Readable({
        read() {
          this.push(randomBytes(64 * 1024));
          if (this.readableLength > 0) setImmediate(() => this.destroy(new Error("client went away")));
        },
      });
      const error = await at.store.put(input).catch((e: unknown) => e);
      assert.equal((error as Error).message, "client went away");
      assert.deepEqual(await at.rawKeys(), []);
      assert.deepEqual(await blobRows(), []);
    });

    test("an aborted upload keeps nothing", async () => {
      const controller = new AbortController();
      let sent = 0;
      const input = new Readable({
        read() {
          sent += 1;
          if (sent === 20) controller.abort();
          this.push(randomBytes(64 * 1024));
        },
      });
      const error = await at.store.put(input, { signal: controller.signal }).catch((e: unknown) => e);
      assert.equal((error as Error).name, "AbortError");
      assert.deepEqual(await at.rawKeys(), []);
      assert.deepEqual(await blobRows(), []);
    });

    test("ranged reads return exactly the requested bytes", async () => {
      const content = randomBytes(200_000);
      const { sha256: digest } = await at.store.put(streamOf(content));

      const middle = await readAll(await at.store.open(digest, { range: { start: 1_000, end: 150_000 } }));
      assert.deepEqual(middle, content.subarray(1_000, 150_001));
      const last = await readAll(await at.store.open(digest, { range: { start: 199_999, end: 199_999 } }));
      assert.deepEqual(last, content.subarray(199_999));
      const all = await readAll(await at.store.open(digest, { range: { start: 0, end: 199_999 } }));
      assert.deepEqual(all, content);

      for (const range of [{ start: 0, end: 200_000 }, { start: 200_000, end: 200_001 }, { start: 10, end: 9 }]) {
        const error = await at.store.open(digest, { range }).catch((e: unknown) => e);
        assertAppError(error, 416, "range_not_satisfiable");
      }
      assertAppError(await at.store.open(sha256(Buffer.from("nope"))).catch((e: unknown) => e), 404, "not_found");
      assertAppError(await at.store.open("../../etc/passwd").catch((e: unknown) => e), 404, "not_found");
    });

    test("a corrupted stored object fails verification before its last bytes are released", async () => {
      const content = randomBytes(500_000);
      const { sha256: digest } = await at.store.put(streamOf(content));
      const corrupted = Buffer.from(content);
      corrupted[250_000] = (corrupted[250_000]! + 1) % 256;
      await at.overwrite(blobKey(digest), corrupted);

      const flipped = await drain(await at.store.open(digest));
      assertAppError(flipped.error, 500, "blob_corrupt");
      assert.ok(flipped.received < content.length, `received ${flipped.received} of ${content.length} bytes`);

      await at.overwrite(blobKey(digest), content.subarray(0, 400_000));
      assertAppError((await drain(await at.store.open(digest))).error, 500, "blob_corrupt");

      await at.overwrite(blobKey(digest), Buffer.concat([content, Buffer.from("x")]));
      assertAppError((await drain(await at.store.open(digest))).error, 500, "blob_corrupt");

      await at.overwrite(blobKey(digest), content);
      assert.deepEqual(await readAll(await at.store.open(digest)), content);
    });

    test("a lost object is reported, and a new upload of its content restores it", async () => {
      const content = randomBytes(30_000);
      const { sha256: digest } = await at.store.put(streamOf(content));
      await at.store.driver.delete(blobKey(digest));

      assertAppError(await at.store.open(digest).catch((e: unknown) => e), 500, "blob_missing");
      const again = await at.store.put(streamOf(content));

      assert.equal(again.created, false);
      assert.deepEqual(await readAll(await at.store.open(digest)), content);
    });

    test("the driver lists stored objects, never its temporary data", async () => {
      const a = await at.store.put(streamOf(randomBytes(1234)));
      const b = await at.store.put(streamOf(randomBytes(99)));
      await at.plantLeftover();

      const listed: Array<{ key: string; size: number }> = [];
      for await (const entry of at.store.driver.list("sha256/")) listed.push({ key: entry.key, size: entry.size });
      const expected = [
        { key: blobKey(a.sha256), size: 1234 },
        { key: blobKey(b.sha256), size: 99 },
      ].sort((x, y) => x.key.localeCompare(y.key));
      assert.deepEqual(listed.sort((x, y) => x.key.localeCompare(y.key)), expected);

      const everything: string[] = [];
      for await (const entry of at.store.driver.list("")) everything.push(entry.key);
      assert.deepEqual(everything.sort(), expected.map((entry) => entry.key));

      const onlyA: string[] = [];
      for await (const entry of at.store.driver.list(`sha256/${a.sha256.slice(0, 2)}/${a.sha256.slice(0, 10)}`)) onlyA.push(entry.key);
      assert.deepEqual(onlyA, [blobKey(a.sha256)]);
    });

    test("recover() removes crash leftovers older than the grace period, nothing else", async () => {
      const { sha256: digest } = await at.store.put(streamOf(randomBytes(1000)));
      const leftover = await at.plantLeftover();

      await at.secondStore({ recoverGraceMs: 60 * 60 * 1000 }).recover();
      assert.deepEqual(await at.rawKeys(), [blobKey(digest), leftover].sort(), "a recent leftover may be another server's upload");

      await at.store.recover();
      assert.deepEqual(await at.rawKeys(), [blobKey(digest)]);
      assert.notEqual(await at.store.has(digest), null);
    });

    test("delete() removes the object and the row, but never a blob an artifact uses", async () => {
      const kept = await at.store.put(streamOf(randomBytes(1000)));
      const gone = await at.store.put(streamOf(randomBytes(1000)));
      await db.prisma.artifact.create({
        data: { component: "api", version: "1.0.0", filename: "api.bin", kind: "binary", sha256: kept.sha256, size: kept.size, uploadedBy: "ci" },
      });

      await at.store.delete(gone.sha256);
      assertAppError(await at.store.delete(kept.sha256).catch((e: unknown) => e), 409, "blob_in_use");

      assert.equal(await at.store.has(gone.sha256), null);
      assert.deepEqual(await at.rawKeys(), [blobKey(kept.sha256)]);
      assert.equal((await readAll(await at.store.open(kept.sha256))).length, 1000);
      await at.store.delete(gone.sha256);
    });

    test("a 192 MiB upload streams through with flat memory", async () => {
      // S3 uploads hold (queueSize + 1) parts in memory whatever the file size: 40-50 MiB with
      // the defaults (4 × 8 MiB). With 2 × 5 MiB parts the same code stays near 20 MiB.
      const { store } = await harness.location({ partSize: 5 * MiB, queueSize: 2 });
      // Large enough that holding the file (176+ MiB by the last sample) stands far apart
      // from a one-time step such as the embedded database growing its WASM memory (~46 MiB).
      const size = 192 * MiB;
      const STEP = 16 * MiB;
      const expected = createHash("sha256");
      // Live buffer memory, measured every 16 MiB while the producer waits. V8 frees buffers
      // in the background after a collection, so each sample is the lowest of a few reads.
      const gc = v8Collector()!;
      const liveBuffers = async () => {
        gc();
        let lowest = Infinity;
        for (let attempt = 0; attempt < 3; attempt += 1) {
          await new Promise((resolve) => setTimeout(resolve, 5));
          lowest = Math.min(lowest, process.memoryUsage().arrayBuffers);
        }
        return lowest;
      };
      // Each streaming phase is judged on its own: between them the Blob row is written and
      // read, and an embedded database (PGlite) may grow its WebAssembly memory then, which
      // process-wide buffer accounting cannot tell from a leak.
      let samples = [await liveBuffers()];
      const phaseGrowth: number[] = [];
      const endPhase = () => {
        phaseGrowth.push(Math.max(...samples) - Math.min(...samples));
      };
      let produced = 0;
      const input = new Readable({
        read() {
          if (produced >= size) return void this.push(null);
          const produce = () => {
            const chunk = randomBytes(256 * 1024);
            expected.update(chunk);
            produced += chunk.length;
            this.push(chunk);
          };
          if (produced === 0 || produced % STEP !== 0) return produce();
          liveBuffers().then((sample) => {
            samples.push(sample);
            produce();
          }, (error: unknown) => this.destroy(error as Error));
        },
      });

      const result = await store.put(input);
      assert.equal(result.sha256, expected.digest("hex"));
      assert.equal(result.size, BigInt(size));
      endPhase();

      const readBack = createHash("sha256");
      const source = await store.open(result.sha256);
      samples = [await liveBuffers()];
      let consumed = 0;
      await pipeline(
        source,
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            readBack.update(chunk);
            const boundary = Math.floor((consumed + chunk.length) / STEP) > Math.floor(consumed / STEP);
            consumed += chunk.length;
            if (!boundary) return callback();
            liveBuffers().then((sample) => {
              samples.push(sample);
              callback();
            }, callback);
          },
        }),
      );
      assert.equal(readBack.digest("hex"), result.sha256);
      endPhase();
      const [writeGrowth, readGrowth] = phaseGrowth as [number, number];
      assert.ok(writeGrowth < 64 * MiB, `buffer memory grew by ${(writeGrowth / MiB).toFixed(1)} MiB while writing`);
      assert.ok(readGrowth < 64 * MiB, `buffer memory grew by ${(readGrowth / MiB).toFixed(1)} MiB while reading`);
    });

    test("check() passes on working storage", async () => {
      await at.store.check();
    });
  });
}

describe("storage readiness failures", () => {
  test("fs: a blob root that cannot be a directory is storage_unavailable", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "ferry-broken-"));
    const file = path.join(dir, "not-a-directory");
    await writeFile(file, "x");
    const store = new BlobStore(new FsDriver(file), db.prisma);
    try {
      assertAppError(await store.check().catch((e: unknown) => e), 503, "storage_unavailable");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("s3: a missing bucket and an unreachable endpoint are storage_unavailable", async () => {
    const s3 = await startS3();
    const storeFor = (endpoint: string, bucket: string) =>
      new BlobStore(
        new S3Driver({ bucket, region: "us-east-1", endpoint, forcePathStyle: true, credentials: testS3Credentials }),
        db.prisma,
      );
    const missing = storeFor(s3.endpoint, `ferry-missing-${randomBytes(4).toString("hex")}`);
    const error = await missing.check().catch((e: unknown) => e);
    assertAppError(error, 503, "storage_unavailable");
    assert.match((error as Error).message, /does not exist/);
    await missing.close();
    await s3.close();

    if (process.env.FERRY_TEST_S3_ENDPOINT) return; // an external server is still running
    const unreachable = storeFor(s3.endpoint, "ferry-any");
    assertAppError(await unreachable.check().catch((e: unknown) => e), 503, "storage_unavailable");
    const put = await unreachable.put(streamOf(randomBytes(100))).catch((e: unknown) => e);
    assertAppError(put, 503, "storage_unavailable");
    await unreachable.close();
  });

  test("s3: incomplete multipart uploads are aborted by recover() where the store can list them", async (t) => {
    const s3 = await startS3();
    const bucket = `ferry-mpu-${randomBytes(4).toString("hex")}`;
    await createBucket(s3.endpoint, bucket);
    const admin = testS3Client(s3.endpoint);
    const driver = new S3Driver({ bucket, prefix: "p", region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: testS3Credentials });
    try {
      await admin.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: `p/${blobKey(sha256(Buffer.from("x")))}` }));
      const report = await driver.sweep(new Date(Date.now() + 1000));
      if (report.unsupported.includes("multipart uploads")) {
        t.skip("this S3 server cannot list multipart uploads (s3rver); recover() reports it instead");
        return;
      }
      assert.equal(report.removed, 1);
      const listed = await admin.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: "p/" }));
      assert.equal((listed.Uploads ?? []).length, 0);
    } finally {
      await driver.close();
      admin.destroy();
      await s3.close();
    }
  });
});
