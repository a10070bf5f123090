/**
 * Offline verification of a Ferry bundle (`ferry bundle verify`, `ferry-agent verify`):
 * a bundle tar, tar.gz, or an extracted folder, and optionally the server's public key.
 *
 * Checks, reporting each fault with the file it is in:
 * - the archive itself, strictly (see tar-reader.ts): one top folder, nothing but files
 *   and folders, no byte unaccounted for;
 * - manifest.json's Ed25519 signature (manifest.json.sig, base64) against the key; without
 *   a key the report says plainly that the signature was not checked;
 * - every file the manifest lists exists with its sha256 and size, and every file is listed
 *   (manifest.json, its signature and SHA256SUMS aside);
 * - every SHA256SUMS line matches, and SHA256SUMS covers every file but itself.
 * Node built-ins only: this runs at air-gapped sites.
 */
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import path from "node:path";
import { createGunzip } from "node:zlib";
import { StrictTarReader, TarFormatError } from "./tar-reader.js";

export const BUNDLE_FORMAT = "ferry-bundle/v1";
const SMALL_FILES = new Set(["manifest.json", "manifest.json.sig", "SHA256SUMS"]);
const MAX_SMALL_FILE = 256 * 1024 * 1024;

export interface Problem {
  /** The file (relative to the bundle's top folder) the problem is in, when there is one. */
  file?: string;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  folder: string | null;
  /** `valid`, `invalid`, or `not checked` (no key given). */
  signature: "valid" | "invalid" | "not checked";
  files: number;
  bytes: number;
  problems: Problem[];
  manifest: { id?: string; release?: unknown; base?: unknown; site?: unknown; mode?: string } | null;
}

interface Seen {
  sha256: string;
  size: number;
}

interface Collected {
  folder: string | null;
  /** An archive's top folder must be the one the manifest names; an extracted folder may have been renamed. */
  archive: boolean;
  files: Map<string, Seen>;
  small: Map<string, Buffer>;
  problems: Problem[];
}

export async function verifyBundle(target: string, options: { publicKeyPem?: string } = {}): Promise<VerifyReport> {
  const info = await lstat(target);
  const collected = info.isDirectory() ? await collectDirectory(target) : await collectArchive(target);
  return check(collected, options.publicKeyPem);
}

/** Reads a tar or tar.gz (by its magic bytes) in one pass, hashing every file. */
async function collectArchive(file: string): Promise<Collected> {
  const head = Buffer.alloc(2);
  const handle = await open(file, "r");
  await handle.read(head, 0, 2, 0).finally(() => handle.close());
  const gzipped = head[0] === 0x1f && head[1] === 0x8b;
  const collected: Collected = { folder: null, archive: true, files: new Map(), small: new Map(), problems: [] };
  let hash: ReturnType<typeof createHash> | null = null;
  let name = "";
  let size = 0;
  let keep: Buffer[] | null = null;
  const reader = new StrictTarReader({
    entry(header) {
      const [top, ...rest] = header.name.split("/");
      if (collected.folder === null) collected.folder = top!;
      if (top !== collected.folder || header.name.startsWith("/") || header.name.split("/").includes("..")) {
        throw new TarFormatError(`${header.name}: every entry must be inside the one top folder ${collected.folder}`, header.name, header.headerOffset);
      }
      name = rest.join("/");
      if (header.type === "directory") return;
      if (!name) throw new TarFormatError(`${header.name}: a file where the top folder should be`, header.name, header.headerOffset);
      hash = createHash("sha256");
      size = 0;
      keep = SMALL_FILES.has(name) && header.size <= MAX_SMALL_FILE ? [] : null;
    },
    data(chunk) {
      hash?.update(chunk);
      size += chunk.length;
      keep?.push(Buffer.from(chunk));
    },
    entryEnd() {
      if (!hash) return;
      if (collected.files.has(name)) throw new TarFormatError(`${name} appears twice in the archive`, name, 0);
      collected.files.set(name, { sha256: hash.digest("hex"), size });
      if (keep) collected.small.set(name, Buffer.concat(keep));
      hash = null;
      keep = null;
    },
  });
  try {
    const source = createReadStream(file, { highWaterMark: 1024 * 1024 });
    const stream = gzipped ? source.pipe(createGunzip()) : source;
    if (gzipped) source.on("error", (error) => stream.destroy(error));
    for await (const chunk of stream as AsyncIterable<Buffer>) reader.push(chunk);
    reader.end();
  } catch (error) {
    const at = reader.position;
    const relative = (entry: string | undefined) => (entry && collected.folder && entry.startsWith(`${collected.folder}/`) ? entry.slice(collected.folder.length + 1) : entry);
    if (error instanceof TarFormatError) collected.problems.push({ file: relative(error.entry), message: `${error.message} (archive offset ${error.offset})` });
    else if (gzipped) collected.problems.push({ file: relative(at.entry), message: `the gzip stream is corrupt near ${relative(at.entry) ?? "the start"}: ${(error as Error).message}` });
    else throw error;
  }
  return collected;
}

async function collectDirectory(dir: string): Promise<Collected> {
  const collected: Collected = { folder: path.basename(path.resolve(dir)), archive: false, files: new Map(), small: new Map(), problems: [] };
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const full = path.join(entry.parentPath, entry.name);
    const relative = path.relative(dir, full).split(path.sep).join("/");
    if (entry.isDirectory()) continue;
    if (!entry.isFile()) {
      collected.problems.push({ file: relative, message: `${relative} is not a regular file (links are not allowed in a bundle)` });
      continue;
    }
    const hash = createHash("sha256");
    let size = 0;
    const keep: Buffer[] | null = SMALL_FILES.has(relative) ? [] : null;
    for await (const chunk of createReadStream(full, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      keep?.push(chunk);
    }
    collected.files.set(relative, { sha256: hash.digest("hex"), size });
    if (keep) collected.small.set(relative, Buffer.concat(keep));
  }
  return collected;
}

function check(collected: Collected, publicKeyPem: string | undefined): VerifyReport {
  const { files, small, problems } = collected;
  // A damaged archive was not read to its end: what is missing after the fault is a consequence, not news.
  if (problems.length && collected.archive) {
    const bytes = [...files.values()].reduce((sum, f) => sum + f.size, 0);
    return { ok: false, folder: collected.folder, signature: "not checked", files: files.size, bytes, problems, manifest: null };
  }
  let signature: VerifyReport["signature"] = "not checked";
  let manifest: any = null;
  const manifestBytes = small.get("manifest.json");
  if (!manifestBytes) problems.push({ file: "manifest.json", message: "manifest.json is missing" });
  else {
    try {
      manifest = JSON.parse(manifestBytes.toString("utf8"));
      if (manifest?.format !== BUNDLE_FORMAT) problems.push({ file: "manifest.json", message: `manifest.json: format is ${JSON.stringify(manifest?.format)}, expected ${BUNDLE_FORMAT}` });
    } catch {
      problems.push({ file: "manifest.json", message: "manifest.json is not valid JSON" });
    }
  }

  if (publicKeyPem && manifestBytes) {
    const sig = small.get("manifest.json.sig");
    let valid = false;
    try {
      valid = Boolean(sig) && verifySignature(null, manifestBytes, createPublicKey(publicKeyPem), Buffer.from(sig!.toString("utf8").trim(), "base64"));
    } catch {
      valid = false;
    }
    signature = valid ? "valid" : "invalid";
    if (!valid) problems.push({ file: sig ? "manifest.json" : "manifest.json.sig", message: sig ? "manifest.json.sig does not verify manifest.json against the given public key" : "manifest.json.sig is missing" });
  }

  if (manifest && Array.isArray(manifest.files)) {
    if (collected.archive && collected.folder && manifest.folder && manifest.folder !== collected.folder) {
      problems.push({ file: "manifest.json", message: `the top folder is ${collected.folder} but the manifest names ${manifest.folder}` });
    }
    const listed = new Set<string>();
    for (const entry of manifest.files as Array<{ path: string; sha256: string; size: number }>) {
      listed.add(entry.path);
      const seen = files.get(entry.path);
      if (!seen) problems.push({ file: entry.path, message: `${entry.path} is listed in the manifest but missing` });
      else if (seen.size !== entry.size) problems.push({ file: entry.path, message: `${entry.path}: size ${seen.size}, the manifest says ${entry.size}` });
      else if (seen.sha256 !== entry.sha256) problems.push({ file: entry.path, message: `${entry.path}: sha256 ${seen.sha256} does not match the manifest's ${entry.sha256}` });
    }
    for (const file of files.keys()) {
      if (!listed.has(file) && !SMALL_FILES.has(file)) problems.push({ file, message: `${file} is not listed in the manifest` });
    }
  }

  checkSums(small.get("SHA256SUMS"), files, problems);
  const bytes = [...files.values()].reduce((sum, f) => sum + f.size, 0);
  return {
    ok: problems.length === 0,
    folder: collected.folder,
    signature,
    files: files.size,
    bytes,
    problems: dedupe(problems),
    manifest: manifest ? { id: manifest.id, release: manifest.release, base: manifest.base, site: manifest.site, mode: manifest.mode } : null,
  };
}

function checkSums(sums: Buffer | undefined, files: Map<string, Seen>, problems: Problem[]): void {
  if (!sums) {
    problems.push({ file: "SHA256SUMS", message: "SHA256SUMS is missing" });
    return;
  }
  const covered = new Set<string>();
  const lines = sums.toString("utf8").split("\n");
  if (lines.at(-1) === "") lines.pop();
  lines.forEach((line, index) => {
    const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
    if (!match) {
      problems.push({ file: "SHA256SUMS", message: `SHA256SUMS line ${index + 1} is malformed` });
      return;
    }
    const [, sha256, file] = match as unknown as [string, string, string];
    covered.add(file);
    const seen = files.get(file);
    if (!seen) problems.push({ file: "SHA256SUMS", message: `SHA256SUMS line ${index + 1} names ${file}, which is not in the bundle` });
    else if (seen.sha256 !== sha256) problems.push({ file, message: `${file}: sha256 ${seen.sha256} does not match SHA256SUMS (line ${index + 1})` });
  });
  for (const file of files.keys()) {
    if (file !== "SHA256SUMS" && !covered.has(file)) problems.push({ file, message: `${file} is not covered by SHA256SUMS` });
  }
}

function dedupe(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.file}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A human-readable report, one line per check. */
export function formatReport(report: VerifyReport): string {
  const lines = [`bundle ${report.folder ?? "(unknown)"}: ${report.files} files, ${report.bytes} bytes`];
  lines.push(
    report.signature === "valid"
      ? "signature: valid (manifest.json signed by the given key)"
      : report.signature === "invalid"
        ? "signature: INVALID"
        : "signature: NOT CHECKED (no public key given; pass --key key.pem or --server URL)",
  );
  for (const problem of report.problems) lines.push(`FAILED ${problem.file ?? "-"}: ${problem.message}`);
  lines.push(report.ok ? "OK: every file matches the manifest and SHA256SUMS" : `FAILED: ${report.problems.length} problem(s)`);
  return lines.join("\n");
}
