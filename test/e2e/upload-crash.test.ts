/**
 * SIGKILL of a server in the middle of an upload: after a restart on the same database
 * and storage, nothing partial is visible (no artifact, no blob, no temp file) and the
 * same upload then succeeds. Runs on the embedded defaults, and on PostgreSQL + S3 when
 * FERRY_TEST_S3_ENDPOINT is set (CI).
 */
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { createScratchDatabase } from "../support/postgres.js";
import { startFerryProcess, type FerryProcess } from "../support/process.js";
import { createBucket } from "../support/s3.js";

const cleanups: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function profiles(): Promise<Array<{ name: string; env: () => Promise<Record<string, string>> }>> {
  const list = [{ name: "embedded", env: async () => ({}) as Record<string, string> }];
  const s3 = process.env.FERRY_TEST_S3_ENDPOINT;
  if (s3) {
    list.push({
      name: "postgresql+s3",
      env: async () => {
        const database = await createScratchDatabase("ferry_crash");
        cleanups.push(database.drop);
        const bucket = `crash-${randomBytes(4).toString("hex")}`;
        await createBucket(s3, bucket);
        return {
          DATABASE_URL: database.url,
          FERRY_STORAGE: "s3",
          S3_ENDPOINT: s3,
          S3_BUCKET: bucket,
          S3_ACCESS_KEY_ID: "S3RVER",
          S3_SECRET_ACCESS_KEY: "S3RVER",
          S3_FORCE_PATH_STYLE: "true",
        };
      },
    });
  }
  return list;
}

/** Starts an upload, sends `sendBytes` of a larger declared body, and resolves once the server has them. */
function startPartialUpload(ferry: FerryProcess, token: string, sendBytes: number): Promise<http.ClientRequest> {
  return new Promise((resolve) => {
    const req = http.request(`${ferry.url}/api/v1/artifacts/crashy/1.0.0/payload.bin`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-length": String(sendBytes * 4) },
    });
    req.on("error", () => {});
    const chunk = randomBytes(1024 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < sendBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return req.once("drain", pump);
      }
      // Give the server a moment to have the bytes in its temp file or multipart parts.
      setTimeout(() => resolve(req), 1500);
    };
    pump();
  });
}

describe("SIGKILL during an upload", async () => {
  for (const profile of await profiles()) {
    test(`${profile.name}: restart is clean and the upload can be repeated`, { timeout: 180_000 }, async () => {
      const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-crash-"));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      const env = { FERRY_DATA_DIR: dataDir, ...(await profile.env()) };

      const first = await startFerryProcess(env);
      cleanups.push(() => first.stop());
      const token = await first.login();
      const inflight = await startPartialUpload(first, token, 24 * 1024 * 1024);
      first.kill("SIGKILL");
      await first.exited;
      inflight.destroy();

      const second = await startFerryProcess(env);
      cleanups.push(() => second.stop());
      const token2 = await second.login();
      const get = await fetch(`${second.url}/api/v1/artifacts/crashy/1.0.0/payload.bin`, { headers: { authorization: `Bearer ${token2}` } });
      assert.equal(get.status, 404);
      const list = await (await fetch(`${second.url}/api/v1/artifacts?component=crashy`, { headers: { authorization: `Bearer ${token2}` } })).json();
      assert.deepEqual(list.items, []);
      const tmp = path.join(dataDir, "blobs", "tmp");
      if (profile.name === "embedded") assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []);

      const body = randomBytes(3 * 1024 * 1024);
      const digest = createHash("sha256").update(body).digest("hex");
      const retry = await fetch(`${second.url}/api/v1/artifacts/crashy/1.0.0/payload.bin`, {
        method: "PUT",
        headers: { authorization: `Bearer ${token2}`, "x-checksum-sha256": digest },
        body: new Uint8Array(body),
      });
      assert.equal(retry.status, 201);
      await second.stop();
    });
  }
});
