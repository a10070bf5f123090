/**
 * Reads an uploaded image archive (a `docker save` tarball or an OCI image-layout tarball,
 * optionally gzipped) from the blob store in one streaming pass and stores every layer,
 * config and manifest it holds as a blob of its own, so that a layer shared by many images
 * is stored once. The small JSON files that describe the image are kept in memory (capped);
 * image-formats.ts then makes sense of them.
 *
 * The archive is untrusted input: an entry that climbs out of the archive (`..`, an absolute
 * path, a link whose target is outside), a device file or FIFO, a duplicate path, absurd
 * sizes or too many entries all fail with 400 `invalid_image`. Every blob this pass creates
 * is reported to `onStored`, so that the caller can remove them again when a later check
 * fails (ImagesService.parse does).
 */
import path from "node:path/posix";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import tar from "tar-stream";
import { AppError } from "../errors.js";
import type { BlobStore, PutResult } from "../storage/blob-store.js";
import { invalidImage, METADATA_MAX_BYTES, readAll, type ArchiveContents, type Compression, type StoredEntry } from "./image-common.js";
import { interpretArchive, type ParsedImage } from "./image-formats.js";

export type { ParsedImage } from "./image-formats.js";

export const MAX_ARCHIVE_ENTRIES = 10_000;
const MAX_LINK_HOPS = 16;

const METADATA_FILES = new Set(["index.json", "oci-layout", "manifest.json"]);
const HEX = "[a-f0-9]{64}";
const OCI_BLOB = new RegExp(`^blobs/sha256/(${HEX})$`);
const DOCKER_CONFIG = new RegExp(`^(${HEX})\\.json$`);
const DOCKER_LAYER = new RegExp(`^(?:[a-f0-9]{64}/layer\\.tar|[a-f0-9]{64}\\.tar)$`);

/**
 * Parses the archive stored as blob `sha256` and stores its parts. Name and tag follow the
 * rule in image-reference.ts (`filename` is the artifact's file name).
 */
export async function ingestImageArchive(
  blobs: BlobStore,
  sha256: string,
  options: { filename: string; maxBytes: number; onStored?: (blob: PutResult) => void },
): Promise<ParsedImage> {
  const onStored = options.onStored ?? (() => {});
  const contents = await readArchive(blobs, sha256, options.maxBytes, onStored);
  return interpretArchive(blobs, contents, options.filename, onStored);
}

/** Archive paths are relative: strip `./`, refuse absolute paths and any `..` segment. */
export function safeEntryPath(name: string): string {
  if (name.startsWith("/") || name.includes("\\") || name.includes("\0")) throw invalidImage(`archive entry ${JSON.stringify(name)} has an absolute or invalid path`);
  const segments = name.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.includes("..")) throw invalidImage(`archive entry ${JSON.stringify(name)} climbs out of the archive ('..')`);
  return segments.join("/");
}

function linkTarget(entryPath: string, header: tar.Header): string {
  const linkname = header.linkname ?? "";
  if (!linkname || linkname.startsWith("/")) throw invalidImage(`link ${JSON.stringify(entryPath)} points outside the archive (${JSON.stringify(linkname)})`);
  // Symlink targets are relative to the link's folder; hard link targets to the archive root.
  const joined = header.type === "symlink" ? path.normalize(path.join(path.dirname(entryPath), linkname)) : path.normalize(linkname);
  if (joined === ".." || joined.startsWith("../") || joined.startsWith("/")) {
    throw invalidImage(`link ${JSON.stringify(entryPath)} points outside the archive (${JSON.stringify(linkname)})`);
  }
  return joined;
}

async function sniffCompression(blobs: BlobStore, sha256: string): Promise<Compression> {
  const stored = await blobs.has(sha256);
  if (!stored || stored.size < 4n) return "none";
  const head = await readAll(await blobs.open(sha256, { range: { start: 0, end: 3 } }), 4);
  return compressionOf(head);
}

function compressionOf(head: Buffer): Compression {
  if (head[0] === 0x1f && head[1] === 0x8b) return "gzip";
  if (head.readUInt32LE(0) === 0xfd2fb528) return "zstd";
  return "none";
}

async function readArchive(blobs: BlobStore, sha256: string, maxBytes: number, onStored: (blob: PutResult) => void): Promise<ArchiveContents> {
  const compression = await sniffCompression(blobs, sha256);
  if (compression === "zstd") throw invalidImage("zstd-compressed image archives are not supported; upload the plain or gzipped tar");
  const source = await blobs.open(sha256);
  const extract = tar.extract();
  // Reading the store can fail for the server's own reasons; those must stay 5xx.
  let storageError: unknown;
  source.on("error", (error) => {
    storageError = error;
    extract.destroy(error);
  });
  if (compression === "gzip") {
    const gunzip = createGunzip();
    gunzip.on("error", (error) => extract.destroy(invalidImage(`the archive is not valid gzip: ${error.message}`)));
    source.pipe(gunzip).pipe(extract);
  } else {
    source.pipe(extract);
  }

  const metadata = new Map<string, Buffer>();
  const stored = new Map<string, StoredEntry>();
  const links = new Map<string, string>();
  const seen = new Set<string>();
  let entries = 0;
  let totalBytes = 0;
  let storing = false;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      if (++entries > MAX_ARCHIVE_ENTRIES) throw invalidImage(`the archive has more than ${MAX_ARCHIVE_ENTRIES} entries`);
      const entryPath = safeEntryPath(header.name);
      if (header.type !== "directory") {
        if (seen.has(entryPath)) throw invalidImage(`archive entry ${JSON.stringify(entryPath)} appears twice`);
        seen.add(entryPath);
      }
      const size = header.size ?? 0;
      // An uncompressed archive cannot hold more than it weighs; a gzipped one is held to the upload limit.
      totalBytes += size;
      if (size > maxBytes || totalBytes > maxBytes) throw invalidImage(`archive entry ${JSON.stringify(entryPath)} declares ${size} bytes, more than the upload limit of ${maxBytes}`);
      switch (header.type) {
        case "directory":
          entry.resume();
          continue;
        case "symlink":
        case "link":
          links.set(entryPath, linkTarget(entryPath, header));
          entry.resume();
          continue;
        case "file":
        case "contiguous-file":
          break;
        default:
          throw invalidImage(`archive entry ${JSON.stringify(entryPath)} is a ${header.type ?? "special file"}; image archives hold only files, folders and links`);
      }
      if (METADATA_FILES.has(entryPath)) {
        if (size > METADATA_MAX_BYTES) throw invalidImage(`${entryPath} is larger than ${METADATA_MAX_BYTES} bytes`);
        metadata.set(entryPath, await readAll(entry as unknown as AsyncIterable<Buffer>, METADATA_MAX_BYTES));
        continue;
      }
      const expected = OCI_BLOB.exec(entryPath)?.[1] ?? DOCKER_CONFIG.exec(entryPath)?.[1];
      if (expected === undefined && !DOCKER_LAYER.test(entryPath)) {
        // Legacy per-layer `json`/`VERSION` files, `repositories` and the like: not needed.
        entry.resume();
        continue;
      }
      storing = true;
      stored.set(entryPath, await storeEntry(blobs, entry as unknown as AsyncIterable<Buffer>, entryPath, expected, maxBytes, onStored));
      storing = false;
    }
  } catch (error) {
    source.destroy();
    if (storageError !== undefined) throw storageError;
    throw storing ? error : asImageError(error);
  }

  const resolve = (entryPath: string): StoredEntry | undefined => {
    let current = entryPath;
    for (let hop = 0; hop <= MAX_LINK_HOPS; hop++) {
      const found = stored.get(current);
      if (found) return found;
      const next = links.get(current);
      if (next === undefined) return undefined;
      current = next;
    }
    throw invalidImage(`archive entry ${JSON.stringify(entryPath)} is a link chain longer than ${MAX_LINK_HOPS} or a loop`);
  };
  return { metadata, resolve };
}

async function storeEntry(
  blobs: BlobStore,
  entry: AsyncIterable<Buffer>,
  entryPath: string,
  expected: string | undefined,
  maxBytes: number,
  onStored: (blob: PutResult) => void,
): Promise<StoredEntry> {
  const sniffer = new HeadSniffer();
  const source = Readable.from(entry);
  let entryError: unknown;
  source.on("error", (error) => {
    entryError = error;
    sniffer.destroy(error);
  });
  const input = source.pipe(sniffer);
  try {
    const result = await blobs.put(input, { expectedSha256: expected, maxBytes });
    onStored(result);
    return { sha256: result.sha256, size: Number(result.size), compression: sniffer.compression() };
  } catch (error) {
    // The tar ended inside this entry (truncated upload): the archive's fault.
    if (entryError !== undefined) throw asImageError(entryError);
    if (error instanceof AppError && error.code === "checksum_mismatch") {
      throw invalidImage(`archive entry ${entryPath} does not hash to the digest in its name`, { entry: entryPath });
    }
    throw error;
  } finally {
    input.destroy();
  }
}

/** Keeps the first four bytes going by, to tell a plain layer tar from a compressed one. */
class HeadSniffer extends Transform {
  private head = Buffer.alloc(0);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.head.length < 4) this.head = Buffer.concat([this.head, chunk.subarray(0, 4 - this.head.length)]);
    callback(null, chunk);
  }

  compression(): Compression {
    return this.head.length < 4 ? "none" : compressionOf(this.head);
  }
}

/** A truncated or garbled tar is the uploader's fault, not the server's. */
function asImageError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return invalidImage(`the artifact is not a readable tar archive: ${message}`);
}
