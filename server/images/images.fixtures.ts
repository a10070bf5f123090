/**
 * Test images built by hand (no base images exist offline): tiny layer tars, an image
 * config and manifest, packed as an OCI image-layout tarball or a `docker save` tarball,
 * plus raw tars for the malicious cases.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import tar from "tar-stream";

const MTIME = new Date("2024-01-01T00:00:00Z");

export const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

export interface RawEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo";
  linkname?: string;
  content?: Buffer | string;
}

/** Packs entries exactly as given (no path checks: the malicious cases need that). */
export async function packTar(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const chunk of pack as unknown as AsyncIterable<Buffer>) chunks.push(Buffer.from(chunk));
  })();
  for (const entry of entries) {
    const content = entry.content === undefined ? Buffer.alloc(0) : Buffer.from(entry.content);
    const type = entry.type ?? "file";
    await new Promise<void>((resolve, reject) => {
      const header = { name: entry.name, type, linkname: entry.linkname, mtime: MTIME, mode: type === "directory" ? 0o755 : 0o644, uid: 0, gid: 0 };
      const callback = (error?: Error | null) => (error ? reject(error) : resolve());
      if (type === "file") pack.entry({ ...header, size: content.length }, content, callback);
      else pack.entry(header, callback);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A layer: an uncompressed tar of the given files. */
export function layerTar(files: Record<string, string>): Promise<Buffer> {
  return packTar(Object.entries(files).map(([name, content]) => ({ name, content })));
}

export interface TestImage {
  /** The layer blobs as they appear in the image (gzipped where `gzipLayers` asked for it). */
  layers: Array<{ bytes: Buffer; mediaType: string }>;
  config: Buffer;
  manifest: Buffer;
  /** Uncompressed layer tars, as docker save carries them. */
  diffLayers: Buffer[];
}

/** Builds config and OCI manifest for `diffLayers` (plain tars); `gzipLayers` stores them gzipped. */
export function buildImage(diffLayers: Buffer[], options: { gzipLayers?: boolean; label?: string } = {}): TestImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "amd64",
      os: "linux",
      created: MTIME.toISOString(),
      config: { Cmd: ["/bin/true"], Labels: { "test.label": options.label ?? "ferry" } },
      rootfs: { type: "layers", diff_ids: diffLayers.map((l) => `sha256:${sha256(l)}`) },
      history: diffLayers.map(() => ({ created: MTIME.toISOString(), created_by: "ferry test" })),
    }),
  );
  const layers = diffLayers.map((bytes) =>
    options.gzipLayers
      ? { bytes: gzipSync(bytes, { level: 9 }), mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }
      : { bytes, mediaType: "application/vnd.oci.image.layer.v1.tar" },
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: `sha256:${sha256(config)}`, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: `sha256:${sha256(l.bytes)}`, size: l.bytes.length })),
    }),
  );
  return { layers, config, manifest, diffLayers };
}

/** An OCI image-layout tarball holding `image`; `refName` goes into the ref.name annotation. */
export function ociArchive(image: TestImage, refName: string | undefined, options: { omitBlob?: string } = {}): Promise<Buffer> {
  const index = {
    schemaVersion: 2,
    manifests: [
      {
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        digest: `sha256:${sha256(image.manifest)}`,
        size: image.manifest.length,
        ...(refName ? { annotations: { "org.opencontainers.image.ref.name": refName } } : {}),
      },
    ],
  };
  const blobs = [image.manifest, image.config, ...image.layers.map((l) => l.bytes)];
  const unique = [...new Map(blobs.map((b) => [sha256(b), b])).entries()].filter(([hex]) => hex !== options.omitBlob);
  return packTar([
    { name: "oci-layout", content: JSON.stringify({ imageLayoutVersion: "1.0.0" }) },
    { name: "index.json", content: JSON.stringify(index) },
    { name: "blobs/", type: "directory" },
    { name: "blobs/sha256/", type: "directory" },
    ...unique.map(([hex, bytes]) => ({ name: `blobs/sha256/${hex}`, content: bytes })),
  ]);
}

/**
 * A legacy `docker save` tarball: `<config hex>.json`, `<layer id>/layer.tar` (plain tars),
 * per-layer `json`/`VERSION`, `repositories` and manifest.json last, as docker writes it.
 */
export function dockerSaveArchive(image: TestImage, repoTags: string[]): Promise<Buffer> {
  const configName = `${sha256(image.config)}.json`;
  const layerIds = image.diffLayers.map((layer, i) => sha256(Buffer.from(`layer-id-${i}-${sha256(layer)}`)));
  const entries: RawEntry[] = [{ name: configName, content: image.config }];
  image.diffLayers.forEach((layer, i) => {
    entries.push({ name: `${layerIds[i]}/`, type: "directory" });
    entries.push({ name: `${layerIds[i]}/VERSION`, content: "1.0" });
    entries.push({ name: `${layerIds[i]}/json`, content: JSON.stringify({ id: layerIds[i] }) });
    entries.push({ name: `${layerIds[i]}/layer.tar`, content: layer });
  });
  entries.push({ name: "manifest.json", content: JSON.stringify([{ Config: configName, RepoTags: repoTags, Layers: layerIds.map((id) => `${id}/layer.tar`) }]) });
  return packTar(entries);
}
