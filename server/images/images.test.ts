import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createWriteStream, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import tar from "tar-stream";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { buildImage, dockerSaveArchive, layerTar, ociArchive, packTar, sha256, type TestImage } from "./images.fixtures.js";
import { ociLayoutEntries, type OciLayoutEntry } from "./oci-layout.js";

const run = promisify(execFile);

let server: TestServer;
let work: string;
let base: Buffer;
let web: TestImage;
let worker: TestImage;
let gzipped: TestImage;

async function upload(coordinates: string, body: Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/v1/artifacts/${coordinates}`, {
    method: "PUT",
    body: new Uint8Array(body),
    headers: { authorization: `Bearer ${server.admin.token}`, "x-artifact-kind": "image", ...headers },
  });
  return { status: response.status, body: (await response.json()) as any };
}

const countImages = () => server.ctx.db.containerImage.count();

async function assertRejected(coordinates: string, body: Buffer, code: string, message: RegExp) {
  const before = await countImages();
  const response = await upload(coordinates, body);
  assert.equal(response.status, 400, JSON.stringify(response.body));
  assert.equal(response.body.error.code, code);
  assert.match(response.body.error.message, message);
  assert.equal(await countImages(), before, "no ContainerImage row after a refused upload");
  const artifact = await server.call("GET", `/api/v1/artifacts/${coordinates}/info`, { token: server.admin.token });
  assert.equal(artifact.status, 404, "no artifact row after a refused upload");
}

before(async () => {
  server = await startTestServer();
  work = mkdtempSync(path.join(tmpdir(), "ferry-images-"));
  base = await layerTar({ "etc/os-release": "ID=ferry-base\n", "bin/tool": "#!/bin/sh\necho base\n" });
  web = buildImage([base, await layerTar({ "srv/web/index.html": "<h1>web</h1>" })], { label: "web" });
  worker = buildImage([base, await layerTar({ "srv/worker/run.sh": "echo work" })], { label: "worker" });
  gzipped = buildImage([await layerTar({ "data/big.txt": "x".repeat(10_000) })], { gzipLayers: true, label: "gz" });
});

after(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("image upload", () => {
  test("an OCI layout tarball is parsed: ContainerImage and one ArtifactBlob per manifest, config and layer", async () => {
    const response = await upload("web/1.0.0/web.tar", await ociArchive(web, "registry.example.com:5000/shop/web:1.0.0"));
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const image = await server.ctx.db.containerImage.findUniqueOrThrow({ where: { artifactId: response.body.id } });
    assert.equal(image.name, "registry.example.com:5000/shop/web");
    assert.equal(image.tag, "1.0.0");
    assert.equal(image.manifestDigest, `sha256:${sha256(web.manifest)}`);
    assert.equal(image.configDigest, `sha256:${sha256(web.config)}`);
    const parts = await server.ctx.db.artifactBlob.findMany({ where: { artifactId: response.body.id }, orderBy: { sha256: "asc" } });
    const expected = [
      { sha256: sha256(web.manifest), role: "manifest" },
      { sha256: sha256(web.config), role: "config" },
      ...web.layers.map((l) => ({ sha256: sha256(l.bytes), role: "layer" })),
    ].sort((a, b) => a.sha256.localeCompare(b.sha256));
    assert.deepEqual(parts.map((p) => ({ sha256: p.sha256, role: p.role })), expected);

    const shown = await server.call("GET", `/api/v1/images/${response.body.id}`, { token: (await server.user(["viewer"])).token });
    assert.equal(shown.status, 200);
    assert.equal(shown.body.reference, "registry.example.com:5000/shop/web:1.0.0");
    assert.deepEqual(shown.body.layers, web.layers.map((l) => ({ digest: `sha256:${sha256(l.bytes)}`, size: l.bytes.length, mediaType: l.mediaType })));
    assert.equal(shown.body.artifact.filename, "web.tar");
  });

  test("a docker save tarball is parsed, an OCI manifest is built for it, and a layer shared with another image is stored once", async () => {
    const response = await upload("worker/2.1.0/worker.tar", await dockerSaveArchive(worker, ["shop/worker:2.1.0"]));
    assert.equal(response.status, 201, JSON.stringify(response.body));
    const image = await server.ctx.db.containerImage.findUniqueOrThrow({ where: { artifactId: response.body.id } });
    assert.deepEqual([image.name, image.tag, image.configDigest], ["shop/worker", "2.1.0", `sha256:${sha256(worker.config)}`]);
    const manifestHex = image.manifestDigest.slice(7);
    const manifest = JSON.parse(await readBlob(manifestHex));
    assert.equal(manifest.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.deepEqual(manifest.layers.map((l: { digest: string }) => l.digest), worker.diffLayers.map((l) => `sha256:${sha256(l)}`));
    assert.ok(manifest.layers.every((l: { mediaType: string }) => l.mediaType === "application/vnd.oci.image.layer.v1.tar"));

    const baseHex = sha256(base);
    assert.equal(await server.ctx.db.blob.count({ where: { sha256: baseHex } }), 1, "the shared base layer is one blob");
    assert.equal(await server.ctx.db.artifactBlob.count({ where: { sha256: baseHex } }), 2, "both images reference it");
  });

  test("gzipped OCI layers keep their media type; the same upload again is a no-op", async () => {
    const archive = await ociArchive(gzipped, "shop/gz:3");
    const first = await upload("gz/3/gz.tar", archive);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const again = await upload("gz/3/gz.tar", archive);
    assert.equal(again.status, 200);
    assert.equal(await server.ctx.db.containerImage.count({ where: { name: "shop/gz" } }), 1);
    const listed = await server.call("GET", "/api/v1/images?name=shop/gz", { token: server.admin.token });
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.items.map((i: { reference: string; layerCount: number }) => [i.reference, i.layerCount]), [["shop/gz:3", 1]]);
  });

  test("listing pages with a cursor, and needs authentication", async () => {
    const page1 = await server.call("GET", "/api/v1/images?limit=2", { token: server.admin.token });
    assert.equal(page1.body.items.length, 2);
    assert.ok(page1.body.nextCursor);
    const page2 = await server.call("GET", `/api/v1/images?limit=2&cursor=${page1.body.nextCursor}`, { token: server.admin.token });
    const names = [...page1.body.items, ...page2.body.items].map((i: { name: string }) => i.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(new Set(names).size, names.length);
    assert.equal((await server.call("GET", "/api/v1/images")).status, 401);
    assert.equal((await server.call("GET", "/api/v1/images/not-a-uuid", { token: server.admin.token })).status, 400);
  });

  test("name rule: a tag-only ref.name needs <name>_<tag>.tar as file name, else 400 image_name_required", async () => {
    const tagOnly = await ociArchive(buildImage([await layerTar({ "a": "1" })]), "latest");
    await assertRejected("nameless/1/image.tar", tagOnly, "image_name_required", /<name>_<tag>\.tar/);
    const named = await upload("nameless/1/payments-api_1.4.2.tar", tagOnly);
    assert.equal(named.status, 201, JSON.stringify(named.body));
    const shown = await server.call("GET", `/api/v1/images/${named.body.id}`, { token: server.admin.token });
    assert.equal(shown.body.reference, "payments-api:1.4.2");
  });
});

describe("hostile and broken archives are refused with 400 and leave no record", () => {
  const small = () => buildImage([Buffer.from("not really a tar, but content")]);

  test("an entry climbing out with ..", async () => {
    const archive = await packTar([{ name: "oci-layout", content: "{}" }, { name: "blobs/../../evil", content: "x" }]);
    await assertRejected("evil/1/dots.tar", archive, "invalid_image", /climbs out/);
  });

  test("an absolute path", async () => {
    await assertRejected("evil/1/abs.tar", await packTar([{ name: "/etc/passwd", content: "x" }]), "invalid_image", /absolute/);
  });

  test("a symlink pointing outside the archive", async () => {
    const image = small();
    const archive = await packTar([
      { name: "oci-layout", content: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
      { name: `blobs/sha256/${sha256(image.config)}`, type: "symlink", linkname: "../../../etc/passwd" },
    ]);
    await assertRejected("evil/1/symlink.tar", archive, "invalid_image", /points outside/);
  });

  test("a device file", async () => {
    await assertRejected("evil/1/dev.tar", await packTar([{ name: "dev/null", type: "character-device" }]), "invalid_image", /character-device/);
  });

  test("a manifest referencing a layer the archive does not contain", async () => {
    const image = small();
    const archive = await ociArchive(image, "evil/missing:1", { omitBlob: sha256(image.layers[0]!.bytes) });
    await assertRejected("evil/1/missing.tar", archive, "invalid_image", /does not contain/);
  });

  test("docker save manifest.json naming a missing layer", async () => {
    const image = small();
    const archive = await packTar([
      { name: `${sha256(image.config)}.json`, content: image.config },
      { name: "manifest.json", content: JSON.stringify([{ Config: `${sha256(image.config)}.json`, RepoTags: ["evil/d:1"], Layers: ["abc/layer.tar"] }]) },
    ]);
    await assertRejected("evil/1/docker-missing.tar", archive, "invalid_image", /abc\/layer\.tar/);
  });

  test("a blob whose content does not match its name", async () => {
    const image = small();
    const archive = await packTar([
      { name: "oci-layout", content: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
      { name: `blobs/sha256/${sha256(image.config)}`, content: "tampered" },
    ]);
    await assertRejected("evil/1/tampered.tar", archive, "invalid_image", /does not hash/);
  });

  test("a docker layer that is not the layer its config names", async () => {
    const image = small();
    const other = await dockerSaveArchive({ ...image, diffLayers: [Buffer.from("another layer")] }, ["evil/swap:1"]);
    await assertRejected("evil/1/swapped.tar", other, "invalid_image", /image config expects/);
  });

  test("something that is not a tar at all", async () => {
    await assertRejected("evil/1/garbage.tar", Buffer.from("this is not a tar archive ".repeat(40)), "invalid_image", /tar|neither/);
  });
});

async function readBlob(hex: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of await server.ctx.blobs.open(hex)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function tarOf(entries: OciLayoutEntry[], file: string): Promise<void> {
  const pack = tar.pack();
  const written = pipeline(pack as unknown as NodeJS.ReadableStream, createWriteStream(file));
  for (const entry of entries) {
    const sink = pack.entry({ name: entry.path, size: entry.size, mtime: new Date(0), mode: 0o644, uid: 0, gid: 0 });
    await pipeline(await entry.open(), sink as unknown as NodeJS.WritableStream);
  }
  pack.finalize();
  await written;
}

describe("OCI layout for bundles, checked with skopeo", () => {
  test("shared layers appear once, output is deterministic, and skopeo inspects and copies every image", async () => {
    const images = await server.ctx.db.containerImage.findMany({ where: { name: { in: ["registry.example.com:5000/shop/web", "shop/worker", "shop/gz"] } } });
    assert.equal(images.length, 3);
    const entries = await ociLayoutEntries(server.ctx.blobs, images);
    const again = await ociLayoutEntries(server.ctx.blobs, [...images].reverse());
    assert.deepEqual(again.map((e) => [e.path, e.sha256, e.size]), entries.map((e) => [e.path, e.sha256, e.size]), "same images, same entries");
    const paths = entries.map((e) => e.path);
    assert.deepEqual(paths, [...paths].sort());
    assert.equal(paths.filter((p) => p === `images/blobs/sha256/${sha256(base)}`).length, 1, "the shared base layer once");
    assert.equal(new Set(paths).size, paths.length);
    assert.ok(paths.includes("images/index.json") && paths.includes("images/oci-layout"));
    const index = JSON.parse(entries.find((e) => e.path === "images/index.json")!.bytes!.toString());
    assert.deepEqual(index.manifests.map((m: any) => m.annotations["org.opencontainers.image.ref.name"]), ["registry.example.com:5000/shop/web:1.0.0", "shop/gz:3", "shop/worker:2.1.0"]);

    const file = path.join(work, "layout.tar");
    await tarOf(entries, file);
    const extracted = path.join(work, "extracted");
    await run("mkdir", ["-p", extracted]);
    await run("tar", ["-xf", file, "-C", extracted]);
    const layout = path.join(extracted, "images");
    for (const image of images) {
      const reference = `${image.name}:${image.tag}`;
      const { stdout } = await run("skopeo", ["inspect", `oci:${layout}:${reference}`]);
      const inspected = JSON.parse(stdout);
      assert.equal(inspected.Digest, image.manifestDigest, reference);
      assert.equal(inspected.Layers.length, (image.layers as unknown[]).length);
      const archive = path.join(work, `${image.tag}.docker.tar`);
      await run("skopeo", ["copy", "--quiet", `oci:${layout}:${reference}`, `docker-archive:${archive}:${reference.replace(/^registry\.example\.com:5000\//, "")}`]);
      assert.ok(readFileSync(archive).length > 0);
    }
  });

  test("archives written by skopeo (docker-archive with symlinked layers, oci-archive) upload and parse", async () => {
    const dockerArchive = path.join(work, "2.1.0.docker.tar");
    const viaDocker = await upload("roundtrip/1/worker-docker.tar", readFileSync(dockerArchive));
    assert.equal(viaDocker.status, 201, JSON.stringify(viaDocker.body));
    const shown = await server.call("GET", `/api/v1/images/${viaDocker.body.id}`, { token: server.admin.token });
    assert.equal(shown.body.configDigest, `sha256:${sha256(worker.config)}`);
    assert.deepEqual(shown.body.layers.map((l: { digest: string }) => l.digest), worker.diffLayers.map((l) => `sha256:${sha256(l)}`));

    const ociFile = path.join(work, "worker.oci.tar");
    await run("skopeo", ["copy", "--quiet", `docker-archive:${dockerArchive}`, `oci-archive:${ociFile}:shop/worker:2.1.0-oci`]);
    const viaOci = await upload("roundtrip/1/worker-oci.tar", readFileSync(ociFile));
    assert.equal(viaOci.status, 201, JSON.stringify(viaOci.body));
    const ociImage = await server.call("GET", `/api/v1/images/${viaOci.body.id}`, { token: server.admin.token });
    assert.equal(ociImage.body.reference, "shop/worker:2.1.0-oci");
    assert.equal(await server.ctx.db.blob.count({ where: { sha256: sha256(base) } }), 1);
  });
});
