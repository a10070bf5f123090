/**
 * The `images/` folder of a bundle (SPEC §5): one OCI image layout holding every image of
 * the bundle, each blob once however many images share it. The bundle builder writes the
 * entries in the order given; the same images always give the same entries, byte for byte.
 *
 * At the site, `skopeo copy oci:images:<name>:<tag> <dest>` imports one image: each
 * manifest in index.json is annotated `org.opencontainers.image.ref.name` = `<name>:<tag>`,
 * which is the reference skopeo's `oci:` transport matches (checked with skopeo 1.9 in
 * images.test.ts).
 */
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import { z } from "zod";
import { conflict } from "../errors.js";
import type { ContainerImage } from "../generated/prisma/client.js";
import type { BlobStore } from "../storage/blob-store.js";
import { METADATA_MAX_BYTES, readAll } from "./image-common.js";
import { MEDIA_TYPES } from "./image-formats.js";

export const OCI_LAYOUT_ROOT = "images";
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

export interface OciLayoutEntry {
  /** Path inside the bundle's top folder, e.g. `images/blobs/sha256/<hex>`. */
  path: string;
  size: number;
  /** SHA-256 (hex) of the entry's bytes. */
  sha256: string;
  /** The bytes themselves for the small generated or JSON entries (oci-layout, index.json, manifests). */
  bytes?: Buffer;
  /** A fresh stream of the entry's bytes; blobs are verified against their digest as they stream. */
  open(): Promise<Readable>;
}

const StoredManifest = z.object({
  mediaType: z.string().optional(),
  config: z.object({ digest: z.string(), size: z.number() }),
  layers: z.array(z.object({ digest: z.string(), size: z.number() })),
});

const hexOf = (digest: string) => digest.replace(/^sha256:/, "");

function bytesEntry(entryPath: string, bytes: Buffer): OciLayoutEntry {
  return {
    path: entryPath,
    size: bytes.length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
    bytes,
    open: async () => Readable.from([bytes]),
  };
}

/**
 * Entries of an OCI image layout under `images/` for `images`, sorted by path: every
 * manifest, config and layer blob once, then `images/index.json` (one descriptor per
 * distinct `name:tag`, sorted) and `images/oci-layout`. Two images claiming one `name:tag`
 * with different manifests fail with 409 `image_ref_conflict`.
 */
export async function ociLayoutEntries(blobs: BlobStore, images: readonly ContainerImage[]): Promise<OciLayoutEntry[]> {
  const blobEntries = new Map<string, OciLayoutEntry>();
  const refs = new Map<string, { mediaType: string; digest: string; size: number }>();

  const addStoredBlob = async (digest: string, declaredSize: number) => {
    const hex = hexOf(digest);
    if (blobEntries.has(hex)) return;
    const stored = await blobs.has(hex);
    if (!stored || Number(stored.size) !== declaredSize) {
      throw new Error(`image blob ${digest} is missing from storage or has another size than its manifest declares`);
    }
    blobEntries.set(hex, { path: `${OCI_LAYOUT_ROOT}/blobs/sha256/${hex}`, size: declaredSize, sha256: hex, open: () => blobs.open(hex) });
  };

  for (const image of images) {
    const hex = hexOf(image.manifestDigest);
    const bytes = await readAll(await blobs.open(hex), METADATA_MAX_BYTES);
    const manifest = StoredManifest.parse(JSON.parse(bytes.toString("utf8")));
    const reference = `${image.name}:${image.tag}`;
    const descriptor = { mediaType: manifest.mediaType ?? MEDIA_TYPES.ociManifest, digest: image.manifestDigest, size: bytes.length };
    const claimed = refs.get(reference);
    if (claimed && claimed.digest !== descriptor.digest) {
      throw conflict("image_ref_conflict", `two different images are both named ${reference}`, { reference, digests: [claimed.digest, descriptor.digest] });
    }
    refs.set(reference, descriptor);
    if (!blobEntries.has(hex)) blobEntries.set(hex, { ...bytesEntry(`${OCI_LAYOUT_ROOT}/blobs/sha256/${hex}`, bytes), sha256: hex });
    await addStoredBlob(manifest.config.digest, manifest.config.size);
    for (const layer of manifest.layers) await addStoredBlob(layer.digest, layer.size);
  }

  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [...refs.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([reference, descriptor]) => ({ ...descriptor, annotations: { [REF_NAME_ANNOTATION]: reference } })),
  };
  const entries = [
    ...blobEntries.values(),
    bytesEntry(`${OCI_LAYOUT_ROOT}/index.json`, Buffer.from(JSON.stringify(index))),
    bytesEntry(`${OCI_LAYOUT_ROOT}/oci-layout`, Buffer.from(JSON.stringify({ imageLayoutVersion: "1.0.0" }))),
  ];
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
