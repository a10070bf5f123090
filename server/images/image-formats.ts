/**
 * Makes sense of what image-archive.ts found: an OCI image layout (oci-layout, index.json,
 * blobs/sha256/…) or a `docker save` archive (manifest.json with paths to a config and
 * uncompressed layer tars). Either way the result is one image described the OCI way: a
 * manifest, its config and its layers, every one of them a stored blob. A docker-save
 * archive has no manifest blob, so one is built (OCI media types) and stored.
 *
 * One artifact holds one image: an archive with several images, or a multi-platform
 * index, is refused with a message saying so.
 */
import { Readable } from "node:stream";
import { z } from "zod";
import type { BlobStore, PutResult } from "../storage/blob-store.js";
import { invalidImage, METADATA_MAX_BYTES, readAll, type ArchiveContents, type Compression, type StoredEntry } from "./image-common.js";
import { chooseReference } from "./image-reference.js";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

const MAX_LAYERS = 1000;
const INDEX_TYPES = new Set<string>([MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList]);

export interface Descriptor {
  mediaType: string;
  /** `sha256:<hex>` */
  digest: string;
  size: number;
}

export type PartRole = "layer" | "config" | "manifest" | "index";

export interface ImagePart {
  /** Bare hex, as in the Blob table. */
  sha256: string;
  role: PartRole;
  mediaType: string;
}

export interface ParsedImage {
  format: "oci" | "docker";
  name: string;
  tag: string;
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
  /** Every blob the image consists of, each digest once (an index first, when there is one). */
  parts: ImagePart[];
}

const DigestString = z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be sha256:<64 lowercase hex> (only SHA-256 is supported)");
const DescriptorSchema = z.object({
  mediaType: z.string().max(255).optional(),
  digest: DigestString,
  size: z.number().int().nonnegative(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const OciLayoutFile = z.object({ imageLayoutVersion: z.string() });
const IndexSchema = z.object({ schemaVersion: z.literal(2), mediaType: z.string().optional(), manifests: z.array(DescriptorSchema).max(1000) });
const ManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema).max(MAX_LAYERS),
});
const DockerManifestFile = z.array(
  z.object({ Config: z.string().max(1000), RepoTags: z.array(z.string().max(1000)).nullish(), Layers: z.array(z.string().max(1000)).max(MAX_LAYERS) }),
);
const DockerConfig = z.object({ rootfs: z.object({ type: z.string(), diff_ids: z.array(DigestString) }) });

function parseJson<T>(schema: z.ZodType<T>, bytes: Buffer, what: string): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw invalidImage(`${what} is not valid JSON`);
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    throw invalidImage(`${what} is not valid: ${result.error.issues.map((i) => `${i.path.join(".") || "(root)"} ${i.message}`).join("; ")}`);
  }
  return result.data;
}

async function readStored(blobs: BlobStore, entry: StoredEntry, what: string): Promise<Buffer> {
  if (entry.size > METADATA_MAX_BYTES) throw invalidImage(`${what} is larger than ${METADATA_MAX_BYTES} bytes`);
  return readAll(await blobs.open(entry.sha256), METADATA_MAX_BYTES);
}

/** `onStored` hears of the blob stored here (the manifest built for a docker-save archive). */
export async function interpretArchive(blobs: BlobStore, contents: ArchiveContents, filename: string, onStored: (blob: PutResult) => void = () => {}): Promise<ParsedImage> {
  if (contents.metadata.has("index.json")) return interpretOciLayout(blobs, contents, filename);
  if (contents.metadata.has("manifest.json")) return interpretDockerSave(blobs, contents, filename, onStored);
  throw invalidImage("the archive is neither an OCI image layout (index.json) nor a docker save archive (manifest.json)");
}

/** The stored blob a descriptor names, checked against the size the descriptor declares. */
function blobFor(contents: ArchiveContents, descriptor: { digest: string; size: number }, referrer: string): StoredEntry {
  const hex = descriptor.digest.slice("sha256:".length);
  const entry = contents.resolve(`blobs/sha256/${hex}`);
  if (!entry || entry.sha256 !== hex) throw invalidImage(`${referrer} references ${descriptor.digest}, which the archive does not contain`, { digest: descriptor.digest });
  if (entry.size !== descriptor.size) {
    throw invalidImage(`${referrer} declares ${descriptor.size} bytes for ${descriptor.digest}, the archive holds ${entry.size}`, { digest: descriptor.digest });
  }
  return entry;
}

async function interpretOciLayout(blobs: BlobStore, contents: ArchiveContents, filename: string): Promise<ParsedImage> {
  const layout = contents.metadata.get("oci-layout");
  if (!layout) throw invalidImage("the OCI image layout has no oci-layout file");
  parseJson(OciLayoutFile, layout, "oci-layout");
  const index = parseJson(IndexSchema, contents.metadata.get("index.json")!, "index.json");
  const digests = [...new Set(index.manifests.map((m) => m.digest))];
  if (digests.length !== 1) {
    throw invalidImage(`index.json lists ${digests.length} images; upload one image per artifact`, { digests });
  }
  const parts: ImagePart[] = [];
  let top = index.manifests[0]!;
  let referrer = "index.json";
  let bytes = await readStored(blobs, blobFor(contents, top, referrer), top.digest);
  let mediaType = top.mediaType ?? mediaTypeOf(bytes) ?? MEDIA_TYPES.ociManifest;
  if (INDEX_TYPES.has(mediaType)) {
    // A one-platform index (as docker 25+ and buildx write, often with an attestation beside it).
    parts.push({ sha256: top.digest.slice(7), role: "index", mediaType });
    const nested = parseJson(IndexSchema, bytes, `image index ${top.digest}`);
    const images = nested.manifests.filter((m) => !m.annotations?.["vnd.docker.reference.type"]);
    if (images.length !== 1) {
      throw invalidImage(`image index ${top.digest} holds ${images.length} platform images; upload one platform per artifact (e.g. skopeo copy --override-arch)`);
    }
    referrer = `image index ${top.digest}`;
    top = { ...images[0]!, annotations: top.annotations };
    bytes = await readStored(blobs, blobFor(contents, top, referrer), top.digest);
    mediaType = top.mediaType ?? mediaTypeOf(bytes) ?? MEDIA_TYPES.ociManifest;
    if (INDEX_TYPES.has(mediaType)) throw invalidImage(`image index ${top.digest} nests another index; only one level is supported`);
  }
  const manifest = parseJson(ManifestSchema, bytes, `manifest ${top.digest}`);
  const manifestRef = `manifest ${top.digest}`;
  blobFor(contents, manifest.config, manifestRef);
  for (const layer of manifest.layers) blobFor(contents, layer, manifestRef);
  const config: Descriptor = { mediaType: manifest.config.mediaType ?? MEDIA_TYPES.ociConfig, digest: manifest.config.digest, size: manifest.config.size };
  const layers: Descriptor[] = manifest.layers.map((l) => ({ mediaType: l.mediaType ?? MEDIA_TYPES.ociLayer, digest: l.digest, size: l.size }));
  const candidates = index.manifests.flatMap((m) => [m.annotations?.["io.containerd.image.name"], m.annotations?.["org.opencontainers.image.ref.name"]]);
  const { name, tag } = chooseReference(candidates, filename);
  return finish("oci", name, tag, { mediaType, digest: top.digest, size: bytes.length }, config, layers, parts);
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const value = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown; manifests?: unknown };
    if (typeof value.mediaType === "string") return value.mediaType;
    return Array.isArray(value.manifests) ? MEDIA_TYPES.ociIndex : undefined;
  } catch {
    return undefined;
  }
}

const LAYER_TYPES: Record<Compression, string> = {
  none: MEDIA_TYPES.ociLayer,
  gzip: `${MEDIA_TYPES.ociLayer}+gzip`,
  zstd: `${MEDIA_TYPES.ociLayer}+zstd`,
};

async function interpretDockerSave(blobs: BlobStore, contents: ArchiveContents, filename: string, onStored: (blob: PutResult) => void): Promise<ParsedImage> {
  const entries = parseJson(DockerManifestFile, contents.metadata.get("manifest.json")!, "manifest.json");
  if (entries.length !== 1) throw invalidImage(`manifest.json lists ${entries.length} images; upload one image per artifact`);
  const entry = entries[0]!;
  const { name, tag } = chooseReference(entry.RepoTags ?? [], filename);
  const find = (entryPath: string) => {
    const stored = contents.resolve(entryPath.replace(/^\.\//, ""));
    if (!stored) throw invalidImage(`manifest.json references ${entryPath}, which the archive does not contain`, { path: entryPath });
    return stored;
  };
  const configEntry = find(entry.Config);
  const diffIds = parseJson(DockerConfig, await readStored(blobs, configEntry, entry.Config), `image config ${entry.Config}`).rootfs.diff_ids;
  if (diffIds.length !== entry.Layers.length) {
    throw invalidImage(`manifest.json lists ${entry.Layers.length} layers but the image config has ${diffIds.length} diff_ids`);
  }
  const layers = entry.Layers.map((layerPath, i) => {
    const stored = find(layerPath);
    // An uncompressed layer's digest is its diffID: a mismatch means a tampered or mixed-up archive.
    if (stored.compression === "none" && `sha256:${stored.sha256}` !== diffIds[i]) {
      throw invalidImage(`layer ${layerPath} hashes to sha256:${stored.sha256}, the image config expects ${diffIds[i]}`);
    }
    return { mediaType: LAYER_TYPES[stored.compression], digest: `sha256:${stored.sha256}`, size: stored.size };
  });
  const config: Descriptor = { mediaType: MEDIA_TYPES.ociConfig, digest: `sha256:${configEntry.sha256}`, size: configEntry.size };
  const manifestBytes = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociManifest, config, layers }));
  const stored = await blobs.put(Readable.from([manifestBytes]));
  onStored(stored);
  const manifest: Descriptor = { mediaType: MEDIA_TYPES.ociManifest, digest: `sha256:${stored.sha256}`, size: manifestBytes.length };
  return finish("docker", name, tag, manifest, config, layers, []);
}

function finish(format: ParsedImage["format"], name: string, tag: string, manifest: Descriptor, config: Descriptor, layers: Descriptor[], parts: ImagePart[]): ParsedImage {
  const all: ImagePart[] = [
    ...parts,
    { sha256: manifest.digest.slice(7), role: "manifest", mediaType: manifest.mediaType },
    { sha256: config.digest.slice(7), role: "config", mediaType: config.mediaType },
    ...layers.map((l) => ({ sha256: l.digest.slice(7), role: "layer" as const, mediaType: l.mediaType })),
  ];
  const seen = new Set<string>();
  const unique = all.filter((p) => !seen.has(p.sha256) && Boolean(seen.add(p.sha256)));
  return { format, name, tag, manifest, config, layers, parts: unique };
}
