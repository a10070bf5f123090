/**
 * Garbage collection and the store scrub against a real server of the test profile
 * (PGlite + directory, or PostgreSQL + S3). Blob ages are set on the Blob rows, the way
 * time would have set them.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync, rmSync } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { DeleteObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { startTestServer, testProfile, type TestServer } from "../../test/support/server.js";
import { blobKey } from "../storage/index.js";
import { collectGarbage } from "./gc.service.js";
import { verifyStore } from "./verify-store.js";

const DAY = 24 * 60 * 60 * 1000;

describe("gc and verify-store", () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  const db = () => server.ctx.db;

  async function storeBlob(label: string, options: { ageMs?: number } = {}): Promise<{ sha256: string; size: number }> {
    const bytes = Buffer.from(`${label} ${randomBytes(16).toString("hex")}`);
    const { sha256 } = await server.ctx.blobs.put(Readable.from([bytes]));
    if (options.ageMs) await db().blob.update({ where: { sha256 }, data: { createdAt: new Date(Date.now() - options.ageMs) } });
    return { sha256, size: bytes.length };
  }

  async function uploadArtifact(component: string, content: string): Promise<string> {
    const sha256 = createHash("sha256").update(content).digest("hex");
    const response = await fetch(`${server.url}/api/v1/artifacts/${component}/1.0.0/${component}.txt`, {
      method: "PUT",
      headers: { authorization: `Bearer ${server.admin.token}`, "x-checksum-sha256": sha256 },
      body: content,
    });
    assert.equal(response.status, 201, await response.text());
    return sha256;
  }

  async function makeSite(): Promise<string> {
    const customer = await db().customer.create({ data: { name: `gc-${randomBytes(4).toString("hex")}` } });
    const site = await db().site.create({
      data: { customerId: customer.id, name: "prod", environment: "production", platform: "linux", connectivity: "offline" },
    });
    return site.id;
  }

  async function makeBundle(siteId: string, data: { status: string; sha256?: string; parts?: unknown; readyAt?: Date; lastDownloadedAt?: Date }) {
    return db().bundle.create({
      data: {
        siteId,
        requestKey: randomBytes(16).toString("hex"),
        product: "shop",
        version: "1.0.0",
        components: [],
        createdBy: "test",
        ...data,
        parts: data.parts === undefined ? undefined : (data.parts as object),
      },
    });
  }

  const stored = async (sha256: string) => (await server.ctx.blobs.has(sha256)) !== null;
  const readable = async (sha256: string) => {
    try {
      for await (const _chunk of await server.ctx.blobs.open(sha256));
      return true;
    } catch {
      return false;
    }
  };
  const gc = (graceMs?: number) => collectGarbage(server.ctx, { bundleTtlDays: 30, graceMs });

  it("deletes old unreferenced blobs and keeps referenced and young ones", async () => {
    const artifactSha = await uploadArtifact("gc-app", `artifact ${randomBytes(8).toString("hex")}`);
    await db().blob.update({ where: { sha256: artifactSha }, data: { createdAt: new Date(Date.now() - 10 * DAY) } });
    // A layer-like part of that artifact, referenced only through ArtifactBlob.
    const part = await storeBlob("layer", { ageMs: 10 * DAY });
    const artifact = await db().artifact.findFirstOrThrow({ where: { sha256: artifactSha } });
    await db().artifactBlob.create({ data: { artifactId: artifact.id, sha256: part.sha256, role: "layer" } });
    const orphan = await storeBlob("orphan", { ageMs: 2 * 60 * 60 * 1000 });
    // Unreferenced but written 10 minutes ago: an upload or build in progress may own it.
    const young = await storeBlob("young", { ageMs: 10 * 60 * 1000 });

    const result = await gc();
    assert.equal(result.blobsDeleted, 1);
    assert.equal(result.bytesFreed, orphan.size);
    assert.equal(await stored(orphan.sha256), false);
    assert.equal(await readable(orphan.sha256), false);
    for (const kept of [artifactSha, part.sha256, young.sha256]) {
      assert.equal(await stored(kept), true, `${kept} was kept`);
      assert.equal(await readable(kept), true, `${kept} is still readable`);
    }
    const download = await fetch(`${server.url}/api/v1/artifacts/gc-app/1.0.0/gc-app.txt`, { headers: { authorization: `Bearer ${server.admin.token}` } });
    assert.equal(download.status, 200);
    await download.arrayBuffer();

    // With no grace at all, the young orphan goes too; a second run finds nothing left.
    assert.equal((await gc(0)).blobsDeleted, 1);
    assert.equal(await stored(young.sha256), false);
    assert.equal((await gc(0)).blobsDeleted, 0);
  });

  it("expires bundles not downloaded within the TTL and then collects their blobs", async () => {
    const siteId = await makeSite();
    const old = new Date(Date.now() - 40 * DAY);
    const staleFile = await storeBlob("stale bundle", { ageMs: 40 * DAY });
    const stalePart = await storeBlob("stale part", { ageMs: 40 * DAY });
    const stale = await makeBundle(siteId, { status: "ready", sha256: staleFile.sha256, parts: [{ index: 0, sha256: stalePart.sha256 }], readyAt: old });
    // Made long ago but downloaded yesterday: still in use.
    const usedFile = await storeBlob("used bundle", { ageMs: 40 * DAY });
    const used = await makeBundle(siteId, { status: "ready", sha256: usedFile.sha256, readyAt: old, lastDownloadedAt: new Date(Date.now() - DAY) });
    // A fresh bundle delivered in parts: each part blob is referenced from the parts list.
    const freshParts = [await storeBlob("part 1", { ageMs: 2 * DAY }), await storeBlob("part 2", { ageMs: 2 * DAY })];
    await makeBundle(siteId, { status: "ready", parts: freshParts.map((p, index) => ({ index, sha256: p.sha256, size: p.size })), readyAt: new Date() });

    const result = await gc();
    assert.equal(result.bundlesExpired, 1);
    assert.equal(result.blobsDeleted, 2);
    assert.equal(result.bytesFreed, staleFile.size + stalePart.size);
    const expired = await db().bundle.findUniqueOrThrow({ where: { id: stale.id } });
    assert.equal(expired.status, "expired");
    assert.ok(expired.expiredAt);
    assert.equal((await db().bundle.findUniqueOrThrow({ where: { id: used.id } })).status, "ready");
    assert.equal(await stored(staleFile.sha256), false);
    assert.equal(await stored(stalePart.sha256), false);
    for (const kept of [usedFile, ...freshParts]) assert.equal(await stored(kept.sha256), true);
  });

  it("a dry run reports without changing anything", async () => {
    const orphan = await storeBlob("dry", { ageMs: 2 * 60 * 60 * 1000 });
    const result = await collectGarbage(server.ctx, { bundleTtlDays: 30, dryRun: true });
    assert.equal(result.blobsDeleted, 1);
    assert.equal(result.dryRun, true);
    assert.equal(await stored(orphan.sha256), true);
    await gc();
  });

  it("POST /gc runs gc as a job that GET /jobs/:id follows; admin only, strict body", async () => {
    const orphan = await storeBlob("via api", { ageMs: 3 * 60 * 60 * 1000 });
    const viewer = await server.user(["viewer"]);
    assert.equal((await server.call("POST", "/api/v1/gc", { token: viewer.token, body: {} })).status, 403);
    const bad = await server.call("POST", "/api/v1/gc", { token: server.admin.token, body: { graceMinutes: 60, everything: true } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, "validation_failed");

    const started = await server.call("POST", "/api/v1/gc", { token: server.admin.token, body: { graceMinutes: 60 } });
    assert.equal(started.status, 202, started.text);
    const id = started.body.job.id as string;
    let job: any;
    for (let i = 0; i < 200; i++) {
      job = (await server.call("GET", `/api/v1/jobs/${id}`, { token: server.admin.token })).body;
      if (job.status === "succeeded" || job.status === "failed") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(job.status, "succeeded", JSON.stringify(job));
    assert.equal(job.type, "gc");
    assert.equal(job.payload, undefined, "payloads are not shown");
    assert.equal(await stored(orphan.sha256), false);
    assert.equal((await server.call("GET", `/api/v1/jobs/${id}`, { token: viewer.token })).status, 403);
    assert.equal((await server.call("GET", "/api/v1/jobs/no-such-job", { token: server.admin.token })).status, 404);
    const audit = await server.call("GET", `/api/v1/audit?target=${id}`, { token: server.admin.token });
    assert.ok(JSON.stringify(audit.body).includes("gc.start"), "the request is audited");
  });

  it("verify-store finds a corrupted blob and a missing one, and passes a healthy store", async () => {
    await gc(0);
    const healthy = await storeBlob("healthy");
    const corrupt = await storeBlob("to corrupt");
    const missing = await storeBlob("to lose");
    const clean = await verifyStore(server.ctx);
    assert.deepEqual({ corrupt: clean.corrupt, missing: clean.missing, unreadable: clean.unreadable }, { corrupt: [], missing: [], unreadable: [] });
    assert.ok(clean.checked >= 3);

    // Same length, different bytes: only re-hashing can tell.
    const replacement = Buffer.alloc(corrupt.size, 0x41);
    if (testProfile === "production") {
      const config = server.ctx.config;
      const s3 = new S3Client({
        endpoint: config.S3_ENDPOINT,
        region: config.S3_REGION,
        forcePathStyle: true,
        credentials: { accessKeyId: config.S3_ACCESS_KEY_ID!, secretAccessKey: config.S3_SECRET_ACCESS_KEY! },
        requestChecksumCalculation: "WHEN_REQUIRED",
        responseChecksumValidation: "WHEN_REQUIRED",
      });
      const key = (sha256: string) => `${config.S3_PREFIX}${blobKey(sha256)}`;
      await s3.send(new PutObjectCommand({ Bucket: config.S3_BUCKET, Key: key(corrupt.sha256), Body: replacement }));
      await s3.send(new DeleteObjectCommand({ Bucket: config.S3_BUCKET, Key: key(missing.sha256) }));
      s3.destroy();
    } else {
      const file = (sha256: string) => path.join(server.dataDir, "blobs", blobKey(sha256));
      writeFileSync(file(corrupt.sha256), replacement);
      rmSync(file(missing.sha256));
    }

    const result = await verifyStore(server.ctx);
    assert.deepEqual(result.corrupt, [corrupt.sha256]);
    assert.deepEqual(result.missing, [missing.sha256]);
    assert.deepEqual(result.unreadable, []);
    assert.equal(result.checked, clean.checked);
    assert.equal(await readable(healthy.sha256), true);
  });
});
