/**
 * FERRY_IDLE_TIMEOUT_MS: a client that stops sending in the middle of an upload (a dead
 * network path, a slowloris) loses its connection once it has been silent that long, and
 * the upload leaves nothing behind; an upload that is slow but keeps sending is not cut,
 * however long it takes in all.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { loadConfig } from "../config.js";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { snapshotState, stateChanges } from "../../test/support/state-snapshot.js";

const IDLE_MS = 1_500;
let server: TestServer;

before(async () => {
  server = await startTestServer({ env: { FERRY_IDLE_TIMEOUT_MS: String(IDLE_MS), FERRY_AGENT_LONG_POLL_MS: "500" } });
});
after(() => server.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Opens a PUT upload of `size` bytes by hand, so the test decides when bytes flow. */
async function openUpload(filename: string, size: number): Promise<{ socket: Socket; closed: Promise<number>; response: () => string }> {
  const url = new URL(server.url);
  const socket = connect(Number(url.port), url.hostname);
  await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let response = "";
  socket.on("data", (chunk: Buffer) => (response += chunk.toString("utf8")));
  socket.on("error", () => {});
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - opened)));
  socket.write(
    `PUT /api/v1/artifacts/idle/1.0.0/${filename} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${server.admin.token}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${size}\r\n\r\n`,
  );
  return { socket, closed, response: () => response };
}

test("an upload that goes silent is cut after the idle timeout and leaves nothing", { timeout: 60_000 }, async () => {
  const snapshot = await snapshotState(server);
  const upload = await openUpload("stalled.bin", 8 * 1024 * 1024);
  upload.socket.write(Buffer.alloc(1024 * 1024, 7));
  const lasted = await upload.closed;
  assert.ok(lasted >= IDLE_MS - 100 && lasted < IDLE_MS + 8_000, `connection closed after ${lasted} ms`);
  // The server gives the upload up asynchronously once the socket is gone.
  const deadline = Date.now() + 10_000;
  let changes = stateChanges(snapshot, await snapshotState(server));
  while (changes.length && Date.now() < deadline) {
    await sleep(100);
    changes = stateChanges(snapshot, await snapshotState(server));
  }
  assert.deepEqual(changes, []);
});

test("a slow upload that keeps sending outlasts the idle timeout and is stored", { timeout: 60_000 }, async () => {
  const chunk = Buffer.alloc(64 * 1024, 3);
  const chunks = 8;
  const upload = await openUpload("slow.bin", chunk.length * chunks);
  const started = Date.now();
  for (let i = 0; i < chunks; i++) {
    upload.socket.write(chunk);
    await sleep(IDLE_MS / 3);
  }
  const deadline = Date.now() + 10_000;
  while (!upload.response().includes("\r\n\r\n") && Date.now() < deadline) await sleep(50);
  assert.ok(Date.now() - started > IDLE_MS * 2, "the upload took longer than the idle timeout in all");
  assert.match(upload.response(), /^HTTP\/1\.1 201 /);
  upload.socket.destroy();
  const stored = await server.call("GET", "/api/v1/artifacts/idle/1.0.0/slow.bin", { token: server.admin.token });
  assert.equal(stored.status, 200);
  assert.equal(stored.text.length, chunk.length * chunks);
});

test("the idle timeout must be longer than the long poll", () => {
  assert.throws(() => loadConfig({ FERRY_IDLE_TIMEOUT_MS: "20000", FERRY_AGENT_LONG_POLL_MS: "25000" }), /FERRY_IDLE_TIMEOUT_MS/);
});
