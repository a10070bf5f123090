/**
 * Opening a bundle for apply: a tar or tar.gz is extracted (links refused, nothing outside
 * the staging folder) into the apply's staging folder inside the work directory, and the
 * extracted copy is what gets verified and used, so the bytes checked are the bytes
 * applied. A folder is verified in place. Nothing outside the staging folder is touched
 * before verification passes.
 */
import { existsSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import path from "node:path";
import { BundleError, readManifest, type BundleManifest } from "./manifest.js";
import { extractTar } from "./tar.js";
import { verifyBundle, type VerifyReport } from "./verify.js";

export const DEFAULT_KEY_FILE = "/etc/ferry/signing-key.pem";

export interface OpenedBundle {
  dir: string;
  manifest: BundleManifest;
  verification: VerifyReport;
}

/** The trusted public key: --key, then FERRY_SIGNING_KEY_FILE, then /etc/ferry/signing-key.pem. */
export async function trustedKey(keyFile: string | undefined): Promise<{ pem: string; file: string } | null> {
  const file = keyFile ?? process.env.FERRY_SIGNING_KEY_FILE ?? (existsSync(DEFAULT_KEY_FILE) ? DEFAULT_KEY_FILE : undefined);
  if (!file) return null;
  return { pem: await readFile(file, "utf8"), file };
}

export async function openBundle(source: string, stagingDir: string, options: { publicKeyPem: string | null }): Promise<OpenedBundle> {
  const info = await stat(source).catch(() => {
    throw new BundleError("bundle_not_found", `${source}: no such file or folder`);
  });
  let dir = path.resolve(source);
  if (!info.isDirectory()) {
    try {
      await extractTar(source, stagingDir, { allowLinks: false });
    } catch (error) {
      throw new BundleError("bundle_unreadable", `${source}: ${(error as Error).message}`);
    }
    const top = await readdir(stagingDir);
    if (top.length !== 1) throw new BundleError("bundle_unreadable", `${source}: a bundle holds exactly one top folder, found ${top.length}`);
    dir = path.join(stagingDir, top[0]!);
  }
  const verification = await verifyBundle(dir, { publicKeyPem: options.publicKeyPem ?? undefined });
  if (!verification.ok) {
    const list = verification.problems.map((p) => `${p.file ?? "-"}: ${p.message}`).join("; ");
    throw new BundleError("verify_failed", `bundle verification failed: ${list}`, verification.problems);
  }
  return { dir, manifest: await readManifest(dir), verification };
}
