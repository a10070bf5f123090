/**
 * The s3rver patch in test/support/s3.ts: deleting the last object of a "folder" leaves the
 * folder, so a PUT racing into it cannot lose it between its mkdir and its open (which
 * killed the CI's S3 server process with an unhandled ENOENT).
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, it } from "node:test";
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { createBucket, loadS3rver, testS3Client } from "./support/s3.js";

const directory = mkdtempSync(path.join(tmpdir(), "ferry-s3rver-patch-"));
const S3rver = loadS3rver();
const server = new S3rver({ address: "127.0.0.1", port: 0, directory, silent: true });
let client: S3Client;
let endpoint: string;

before(async () => {
  const { port } = await server.run();
  endpoint = `http://127.0.0.1:${port}`;
  await createBucket(endpoint, "patch");
  client = testS3Client(endpoint);
});

after(async () => {
  client?.destroy();
  await server.close();
  rmSync(directory, { recursive: true, force: true });
});

it("deleting the last object under tmp/ keeps the folder", async () => {
  await client.send(new PutObjectCommand({ Bucket: "patch", Key: "tmp/only", Body: "x" }));
  await client.send(new DeleteObjectCommand({ Bucket: "patch", Key: "tmp/only" }));
  assert.equal(existsSync(path.join(directory, "patch", "tmp")), true);
});

it("PUTs and DELETEs racing in one folder all succeed and the server stays up", async () => {
  for (let round = 0; round < 50; round++) {
    await client.send(new PutObjectCommand({ Bucket: "patch", Key: `tmp/a${round}`, Body: "a" }));
    await Promise.all([
      client.send(new DeleteObjectCommand({ Bucket: "patch", Key: `tmp/a${round}` })),
      client.send(new PutObjectCommand({ Bucket: "patch", Key: `tmp/b${round}`, Body: "b" })),
    ]);
    await client.send(new DeleteObjectCommand({ Bucket: "patch", Key: `tmp/b${round}` }));
  }
  const response = await fetch(`${endpoint}/patch?list-type=2`, { method: "GET" });
  assert.ok(response.status < 500, `s3rver answered ${response.status}`);
});
