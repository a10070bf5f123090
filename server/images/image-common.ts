/** Shared pieces of image-archive.ts and image-formats.ts. */
import { badRequest } from "../errors.js";

/** index.json, oci-layout, manifest.json and the configs and manifests read back are capped at this. */
export const METADATA_MAX_BYTES = 4 * 1024 * 1024;

export type Compression = "none" | "gzip" | "zstd";

export interface StoredEntry {
  sha256: string;
  size: number;
  /** Sniffed from the first bytes: docker-save layers are plain tars, OCI layers often gzip. */
  compression: Compression;
}

/** What one pass over an image archive found. */
export interface ArchiveContents {
  /** The describing JSON files by path (index.json, oci-layout, manifest.json). */
  metadata: Map<string, Buffer>;
  /** The stored entry at `entryPath`, following symlinks and hard links inside the archive. */
  resolve(entryPath: string): StoredEntry | undefined;
}

export const invalidImage = (message: string, details?: unknown) => badRequest("invalid_image", message, details);

export async function readAll(input: AsyncIterable<Buffer | Uint8Array>, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of input) {
    length += chunk.length;
    if (length > maxBytes) throw invalidImage(`content is larger than ${maxBytes} bytes`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
