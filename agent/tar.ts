/**
 * Safe tar extraction (plain or gzip, detected from the first bytes) with tar-stream. An
 * entry may never land outside the target: absolute names, `..` components and links
 * whose target leaves the folder are refused, and the whole extraction fails on the
 * first such entry. Devices and FIFOs are refused; setuid/setgid bits are dropped.
 */
import { createReadStream } from "node:fs";
import { link, lstat, mkdir, open, realpath, rm, symlink, unlink } from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { extract as createExtract } from "tar-stream";
import { isInside } from "./fsutil.js";

export interface ExtractOptions {
  /** Leading path components to drop, as `tar --strip-components`. */
  strip?: number;
  /** Symbolic and hard links inside the target; refused when false. */
  allowLinks: boolean;
}

export class UnsafeArchiveError extends Error {
  readonly code = "unsafe_archive";
}

async function isGzip(file: string): Promise<boolean> {
  const handle = await open(file, "r");
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** Extracts `archive` into `target` (created if missing); returns the regular files written. */
export async function extractTar(archive: string, target: string, options: ExtractOptions): Promise<string[]> {
  const root = path.resolve(target);
  await mkdir(root, { recursive: true });
  const written: string[] = [];
  const extractor = createExtract();
  const strip = options.strip ?? 0;

  const place = (name: string): string | null => {
    const cleaned = name.replace(/^(\.\/)+/, "");
    if (cleaned.startsWith("/") || /^[A-Za-z]:/.test(cleaned)) throw new UnsafeArchiveError(`${archive}: entry "${name}" has an absolute path`);
    const parts = cleaned.split("/").filter((part) => part !== "" && part !== ".");
    if (parts.includes("..")) throw new UnsafeArchiveError(`${archive}: entry "${name}" climbs out with ".."`);
    const kept = parts.slice(strip);
    if (kept.length === 0) return null;
    const destination = path.join(root, ...kept);
    if (!isInside(root, destination)) throw new UnsafeArchiveError(`${archive}: entry "${name}" lands outside ${root}`);
    return destination;
  };
  const realRoot = await realpath(root);
  // A chain of in-folder symlinks can still resolve outside (`a -> .`, `b -> a/..`), so the
  // folder an entry is written into is checked as the file system resolves it.
  const ensureDir = async (dir: string) => {
    let current = root;
    for (const part of path.relative(root, dir).split(path.sep).filter(Boolean)) {
      current = path.join(current, part);
      const info = await lstat(current).catch(() => null);
      if (!info) await mkdir(current);
      else if (info.isSymbolicLink()) {
        if (!isInside(realRoot, await realpath(current))) throw new UnsafeArchiveError(`${archive}: ${current} resolves outside ${root} through a link`);
      } else if (!info.isDirectory()) throw new UnsafeArchiveError(`${archive}: ${current} is a file, not a folder`);
    }
  };
  const clear = async (destination: string) => {
    await ensureDir(path.dirname(destination));
    const info = await lstat(destination).catch(() => null);
    if (info && !info.isDirectory()) await unlink(destination);
  };

  const source: Readable = createReadStream(archive);
  const input = (await isGzip(archive)) ? source.pipe(createGunzip()) : source;
  source.on("error", (error) => extractor.destroy(error));

  input.on("error", (error) => extractor.destroy(error));
  input.pipe(extractor);
  try {
    for await (const entry of extractor) {
      const header = entry.header;
      const destination = place(header.name);
      try {
        if (!destination) continue;
        if (header.type === "directory") {
          await ensureDir(destination);
        } else if (header.type === "file" || header.type === "contiguous-file") {
          await clear(destination);
          const mode = (header.mode ?? 0o644) & 0o777;
          const handle = await open(destination, "wx", mode);
          await pipeline(entry, handle.createWriteStream());
          written.push(destination);
          continue;
        } else if (header.type === "symlink" || header.type === "link") {
          if (!options.allowLinks) throw new UnsafeArchiveError(`${archive}: entry "${header.name}" is a link; links are not allowed here`);
          const linkname = header.linkname ?? "";
          if (path.isAbsolute(linkname)) throw new UnsafeArchiveError(`${archive}: link "${header.name}" points at the absolute path ${linkname}`);
          await clear(destination);
          if (header.type === "symlink") {
            if (!isInside(root, path.resolve(path.dirname(destination), linkname))) {
              throw new UnsafeArchiveError(`${archive}: symlink "${header.name}" -> "${linkname}" leaves the target folder`);
            }
            await symlink(linkname, destination);
          } else {
            const linked = place(linkname);
            if (!linked) throw new UnsafeArchiveError(`${archive}: hard link "${header.name}" -> "${linkname}" points at a stripped path`);
            await link(linked, destination);
            written.push(destination);
          }
        } else {
          throw new UnsafeArchiveError(`${archive}: entry "${header.name}" is a ${header.type}; only files, folders and links are extracted`);
        }
      } finally {
        entry.resume();
      }
    }
  } catch (error) {
    source.destroy();
    throw error;
  }
  return written;
}

/** Removes a path whatever it is. */
export function removePath(target: string): Promise<void> {
  return rm(target, { recursive: true, force: true });
}
