/**
 * Hostile image archives (issue #7): every one is refused with a SPEC §4 4xx and leaves
 * nothing behind — no artifact or image row, and no blob either (not the archive, not a
 * layer stored before the problem showed up), so nothing of it can be fetched from
 * /blobs/:sha256. Blobs that existed before a refused upload (a layer shared with an image
 * already stored) stay. Complements images.test.ts, which checks the messages.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { assertRefused, rawRequest } from "../../test/support/raw-http.js";
import { snapshotState, stateChanges } from "../../test/support/state-snapshot.js";
import { buildImage, dockerSaveArchive, layerTar, ociArchive, packTar, sha256, type RawEntry, type TestImage } from "./images.fixtures.js";
import { MAX_ARCHIVE_ENTRIES } from "./image-archive.js";

/** Small, so that size checks are reached without writing gigabytes. */
const MAX_UPLOAD = 32 * 1024 * 1024;

let server: TestServer;
let shared: TestImage;
let counter = 0;

before(async () => {
  server = await startTestServer({ env: { FERRY_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) } });
  // An image already stored: its layer is shared with some of the bad archives below.
  shared = buildImage([await layerTar({ "etc/os-release": "ID=shared\n" })], { label: "shared" });
  const ok = await upload(await ociArchive(shared, "good/shared:1.0"));
  assert.equal(ok.status, 201, ok.text);
});
after(async () => {
  await server?.close();
});

function upload(body: Buffer, name = `bad-${++counter}_1.0.tar`) {
  return rawRequest(server.url, "PUT", `/api/v1/artifacts/imgbad/1.0.${counter}/${name}`, {
    headers: { authorization: `Bearer ${server.admin.token}`, "x-artifact-kind": "image", "content-type": "application/octet-stream" },
    body,
    timeoutMs: 60_000,
  });
}

/** Uploads `archive`, expects a 4xx with `code` (and `message`), and checks that nothing changed. */
async function assertNothingLeft(archive: Buffer, code: string, message?: RegExp): Promise<void> {
  const before = await snapshotState(server);
  const response = await upload(archive);
  assertRefused(response, "PUT", `upload #${counter}`, code);
  if (message) assert.match(response.body.error.message, message);
  assert.deepEqual(stateChanges(before, await snapshotState(server)), [], "a refused image upload left rows or blobs behind");
  // The archive itself cannot be fetched by digest either.
  const byDigest = await rawRequest(server.url, "GET", `/api/v1/blobs/${sha256(archive)}`, { headers: { authorization: `Bearer ${server.admin.token}` } });
  assert.equal(byDigest.status, 404);
}

const layout = { name: "oci-layout", content: JSON.stringify({ imageLayoutVersion: "1.0.0" }) };

function ociIndex(image: TestImage, refName = "bad/image:1"): RawEntry {
  return {
    name: "index.json",
    content: JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${sha256(image.manifest)}`, size: image.manifest.length, annotations: { "org.opencontainers.image.ref.name": refName } }],
    }),
  };
}

/** The blobs of `image` as OCI layout entries. */
function blobEntries(image: TestImage): RawEntry[] {
  const blobs = [image.manifest, image.config, ...image.layers.map((l) => l.bytes)];
  return [...new Map(blobs.map((b) => [sha256(b), b])).entries()].map(([hex, bytes]) => ({ name: `blobs/sha256/${hex}`, content: bytes }));
}

/** A fresh image with one unique layer (so its blobs are new to the server). */
async function freshImage(): Promise<TestImage> {
  return buildImage([await layerTar({ [`srv/${++counter}.txt`]: `unique ${counter} ${Date.now()}` })], { label: `fresh-${counter}` });
}

/** Offsets of the tar headers in `archive` (ustar, no long headers). */
function headerOffsets(archive: Buffer): number[] {
  const offsets: number[] = [];
  let offset = 0;
  while (offset + 512 <= archive.length && archive[offset] !== 0) {
    offsets.push(offset);
    const size = parseInt(archive.subarray(offset + 124, offset + 136).toString("ascii").replace(/\0.*$/, "").trim() || "0", 8);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  return offsets;
}

/** Rewrites one header field and its checksum, as a hostile tool would. */
function patchHeader(archive: Buffer, headerOffset: number, patch: (header: Buffer) => void): Buffer {
  const copy = Buffer.from(archive);
  const header = copy.subarray(headerOffset, headerOffset + 512);
  patch(header);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
  return copy;
}

const octalSize = (digits: string) => (header: Buffer) => header.write(`${digits}\0`, 124, "ascii");
/** GNU base-256 size: high bit set, big-endian binary. */
const base256Size = (value: bigint) => (header: Buffer) => {
  header.fill(0, 124, 136);
  header[124] = 0x80;
  for (let i = 135; i > 124; i--) {
    header[i] = Number(value & 0xffn);
    value >>= 8n;
  }
};

/** A raw 512-byte header block with a valid checksum. */
function rawHeader(fields: { name: string; size: number; type: string; pax?: boolean }): Buffer {
  const header = Buffer.alloc(512);
  header.write(fields.name, 0, "utf8");
  header.write("0000644\0", 100, "ascii");
  header.write("0000000\0", 108, "ascii");
  header.write("0000000\0", 116, "ascii");
  header.write(`${fields.size.toString(8).padStart(11, "0")}\0`, 124, "ascii");
  header.write("00000000000\0", 136, "ascii");
  header.write(fields.type, 156, "ascii");
  header.write("ustar\0", 257, "ascii");
  header.write("00", 263, "ascii");
  return patchHeader(header, 0, () => {});
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = body.length + 1;
  while (`${length}${body}`.length !== length) length = `${length}${body}`.length;
  return `${length}${body}`;
}

function paxEntry(records: string): Buffer {
  const content = Buffer.from(records);
  return Buffer.concat([rawHeader({ name: "PaxHeader", size: content.length, type: "x" }), content, Buffer.alloc((512 - (content.length % 512)) % 512)]);
}

const END = Buffer.alloc(1024);

describe("hostile image archives: 4xx, and no row or blob left behind", () => {
  test("an entry with .. after layers were already stored", async () => {
    const image = await freshImage();
    await assertNothingLeft(await packTar([layout, ...blobEntries(image), { name: "blobs/../../escape", content: "x" }]), "invalid_image", /climbs out/);
  });

  test("an absolute path, and a Windows path", async () => {
    await assertNothingLeft(await packTar([layout, { name: "/etc/cron.d/evil", content: "x" }]), "invalid_image", /absolute/);
    await assertNothingLeft(await packTar([layout, { name: "..\\..\\evil.txt", content: "x" }]), "invalid_image", /absolute or invalid/);
  });

  test("a symlink or hard link escaping the archive, after layers were stored", async () => {
    const image = await freshImage();
    await assertNothingLeft(
      await packTar([layout, ...blobEntries(image), { name: `blobs/sha256/${"e".repeat(64)}`, type: "symlink", linkname: "../../../../etc/shadow" }]),
      "invalid_image",
      /points outside/,
    );
    await assertNothingLeft(await packTar([layout, ...blobEntries(image), { name: "blobs/hard", type: "link", linkname: "../../etc/shadow" }]), "invalid_image", /points outside/);
    await assertNothingLeft(await packTar([layout, { name: "blobs/abs", type: "symlink", linkname: "/etc/shadow" }]), "invalid_image", /points outside/);
  });

  test("a symlink loop in place of the manifest", async () => {
    const image = await freshImage();
    const hex = sha256(image.manifest);
    const others = blobEntries(image).filter((e) => !e.name.endsWith(hex));
    await assertNothingLeft(
      await packTar([layout, ociIndex(image), ...others, { name: `blobs/sha256/${hex}`, type: "symlink", linkname: "loop-a" }, { name: "blobs/sha256/loop-a", type: "symlink", linkname: hex }]),
      "invalid_image",
    );
  });

  test("duplicate entries", async () => {
    const image = await freshImage();
    const entries = blobEntries(image);
    await assertNothingLeft(await packTar([layout, ociIndex(image), ...entries, entries[0]!]), "invalid_image", /appears twice/);
  });

  test("a blob that does not hash to its name, and a manifest declaring a wrong size", async () => {
    const image = await freshImage();
    const entries = blobEntries(image);
    await assertNothingLeft(await packTar([layout, ociIndex(image), ...entries.slice(1), { name: entries[0]!.name, content: "tampered" }]), "invalid_image", /does not hash/);
    const lying = { ...image, manifest: Buffer.from(image.manifest.toString().replace(/"size":(\d+)\}\]/, (_, n) => `"size":${Number(n) + 1}}]`)) };
    await assertNothingLeft(await packTar([layout, ociIndex(lying), ...blobEntries(lying)]), "invalid_image", /declares/);
  });

  test("a bad manifest after shared and new layers were stored keeps the shared ones", async () => {
    const fresh = await freshImage();
    const mixed = buildImage([shared.diffLayers[0]!, fresh.diffLayers[0]!], { label: "mixed" });
    const broken = { ...mixed, manifest: Buffer.from('{"schemaVersion":2,"config":"not a descriptor"}') };
    await assertNothingLeft(await packTar([layout, ociIndex(broken), ...blobEntries(broken)]), "invalid_image", /not valid/);
    const layer = await rawRequest(server.url, "GET", `/api/v1/blobs/${sha256(shared.layers[0]!.bytes)}`, { headers: { authorization: `Bearer ${server.admin.token}` } });
    assert.equal(layer.status, 200, "the layer of the image stored before is still there");
  });

  test("docker save archives: a missing layer, a swapped layer, a manifest.json listing two images", async () => {
    const image = await freshImage();
    await assertNothingLeft(await dockerSaveArchive({ ...image, diffLayers: [Buffer.from(`another layer ${counter}`)] }, ["bad/swap:1"]), "invalid_image", /image config expects/);
    const twice = await packTar([
      { name: `${sha256(image.config)}.json`, content: image.config },
      { name: "manifest.json", content: JSON.stringify([{ Config: `${sha256(image.config)}.json`, RepoTags: ["a/b:1"], Layers: [] }, { Config: "x.json", RepoTags: [], Layers: [] }]) },
    ]);
    await assertNothingLeft(twice, "invalid_image", /2 images/);
    await assertNothingLeft(
      await packTar([{ name: `${sha256(image.config)}.json`, content: image.config }, { name: "manifest.json", content: JSON.stringify([{ Config: "../../../etc/passwd", RepoTags: ["a/b:1"], Layers: [] }]) }]),
      "invalid_image",
      /does not contain/,
    );
  });

  test("absurd sizes: a header larger than the upload limit, in octal and base-256, a negative PAX size", async () => {
    const base = await packTar([layout, { name: "blobs/sha256/" + "a".repeat(64), content: "tiny" }]);
    const last = headerOffsets(base).at(-1)!;
    await assertNothingLeft(patchHeader(base, last, octalSize("77777777777")), "invalid_image", /declares|tar/);
    await assertNothingLeft(patchHeader(base, last, base256Size(2n ** 62n)), "invalid_image", /declares|tar/);
    await assertNothingLeft(patchHeader(base, last, base256Size(2n ** 88n - 1n)), "invalid_image");
    const negative = Buffer.concat([paxEntry(paxRecord("size", "-5")), rawHeader({ name: "x", size: 0, type: "0" }), END]);
    await assertNothingLeft(negative, "invalid_image");
    const paxHuge = Buffer.concat([paxEntry(paxRecord("size", "99999999999999999999")), rawHeader({ name: "x", size: 0, type: "0" }), END]);
    await assertNothingLeft(paxHuge, "invalid_image");
    const paxTraversal = Buffer.concat([paxEntry(paxRecord("path", "../../etc/passwd")), rawHeader({ name: "innocent", size: 0, type: "0" }), END]);
    await assertNothingLeft(paxTraversal, "invalid_image", /climbs out/);
  });

  test("a header declaring more bytes than the stream holds (truncated archive), plain and gzipped", async () => {
    const image = await freshImage();
    const whole = await packTar([layout, ociIndex(image), ...blobEntries(image)]);
    const lastHeader = headerOffsets(whole).at(-1)!;
    // The last blob declares a MiB more than follows, then the stream ends.
    const lying = patchHeader(whole, lastHeader, octalSize((parseInt(whole.subarray(lastHeader + 124, lastHeader + 135).toString(), 8) + 1024 * 1024).toString(8).padStart(11, "0"))).subarray(0, lastHeader + 512 + 100);
    await assertNothingLeft(lying, "invalid_image", /tar|end/i);
    await assertNothingLeft(whole.subarray(0, Math.floor(whole.length / 2)), "invalid_image");
    await assertNothingLeft(gzipSync(whole).subarray(0, 200), "invalid_image");
  });

  test("long names: a GNU long name or PAX header over 4 MiB", async () => {
    const longName = Buffer.alloc(5 * 1024 * 1024, "a");
    const gnu = Buffer.concat([rawHeader({ name: "././@LongLink", size: longName.length, type: "L" }), longName, Buffer.alloc((512 - (longName.length % 512)) % 512), rawHeader({ name: "x", size: 0, type: "0" }), END]);
    await assertNothingLeft(gnu, "invalid_image");
    await assertNothingLeft(Buffer.concat([paxEntry(paxRecord("comment", "c".repeat(5 * 1024 * 1024))), rawHeader({ name: "x", size: 0, type: "0" }), END]), "invalid_image");
  });

  test("decompression bombs: a gzipped archive inflating past the upload limit", async () => {
    // 48 MiB of zeros in one entry (over the 32 MiB limit) gzip to about 50 KiB.
    const bomb = gzipSync(await packTar([layout, { name: `blobs/sha256/${"0".repeat(64)}`, content: Buffer.alloc(48 * 1024 * 1024) }]));
    assert.ok(bomb.length < 200_000);
    const started = Date.now();
    await assertNothingLeft(bomb, "invalid_image", /upload limit/);
    assert.ok(Date.now() - started < 30_000, "refused without inflating everything slowly");
  });

  test("metadata bombs: a huge index.json, a deeply nested one, too many manifests, too many entries", async () => {
    await assertNothingLeft(await packTar([layout, { name: "index.json", content: " ".repeat(5 * 1024 * 1024) }]), "invalid_image", /larger than/);
    await assertNothingLeft(await packTar([layout, { name: "index.json", content: "[".repeat(1_000_000) + "]".repeat(1_000_000) }]), "invalid_image");
    const nested = `{"schemaVersion":2,"manifests":[],"annotations":${'{"a":'.repeat(200_000)}1${"}".repeat(200_000)}}`;
    await assertNothingLeft(await packTar([layout, { name: "index.json", content: nested }]), "invalid_image");
    const descriptor = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 1 };
    await assertNothingLeft(await packTar([layout, { name: "index.json", content: JSON.stringify({ schemaVersion: 2, manifests: Array(1001).fill(descriptor) }) }]), "invalid_image");
    const many: RawEntry[] = Array.from({ length: MAX_ARCHIVE_ENTRIES + 1 }, (_, i) => ({ name: `d${i}/`, type: "directory" }));
    await assertNothingLeft(await packTar(many), "invalid_image", /entries/);
  });

  test("not an archive: empty, garbage, zstd, a gzip that is not", async () => {
    await assertNothingLeft(Buffer.alloc(0), "invalid_image");
    await assertNothingLeft(Buffer.from("garbage ".repeat(200)), "invalid_image");
    await assertNothingLeft(Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(600)]), "invalid_image", /zstd/);
    await assertNothingLeft(Buffer.concat([Buffer.from([0x1f, 0x8b]), Buffer.from("not deflate at all ".repeat(50))]), "invalid_image", /gzip|tar/);
    await assertNothingLeft(Buffer.alloc(4096), "invalid_image");
  });

  test("device files and FIFOs", async () => {
    await assertNothingLeft(await packTar([layout, { name: "dev/zero", type: "character-device" }]), "invalid_image");
    await assertNothingLeft(await packTar([layout, { name: "pipe", type: "fifo" }]), "invalid_image");
  });

  test("a good image still uploads afterwards, sharing the stored layer", async () => {
    const image = buildImage([shared.diffLayers[0]!, (await freshImage()).diffLayers[0]!], { label: "after" });
    const response = await upload(await ociArchive(image, "good/after:1.0"));
    assert.equal(response.status, 201, response.text);
  });
});
