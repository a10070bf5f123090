/**
 * Bundle downloads. A single-file bundle (or one part) is a blob served by sendBlob (Range,
 * ETag, X-Checksum-Sha256). A bundle stored in parts downloaded whole is the parts streamed
 * one after the other; that whole is served without ranges (resume per part instead).
 */
import { pipeline } from "node:stream/promises";
import type { Request, Response } from "express";
import type { Bundle } from "../generated/prisma/client.js";
import { badRequest, notFound } from "../errors.js";
import { downloadBuffers, responseWriter, sendBlob } from "../http/send-blob.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { BundlePart } from "./bundles.output.js";

export function bundleFileName(bundle: Bundle): string {
  const folder = (bundle.manifest as { folder?: string } | null)?.folder ?? `bundle-${bundle.id}`;
  return `${folder}.${bundle.format}`;
}

export async function sendBundle(blobs: BlobStore, req: Request, res: Response, bundle: Bundle, part: number | undefined): Promise<void> {
  const parts = (bundle.parts as BundlePart[] | null) ?? null;
  const filename = bundleFileName(bundle);
  if (part !== undefined) {
    if (!parts) throw badRequest("not_split", `bundle ${bundle.id} is a single file; download it without ?part`);
    const chosen = parts.find((p) => p.index === part);
    if (!chosen) throw notFound("bundle part", `${part} of ${parts.length}`);
    await sendBlob(blobs, req, res, { sha256: chosen.sha256, size: BigInt(chosen.size), filename: `${filename}.part${String(part).padStart(3, "0")}` });
    return;
  }
  if (!parts) {
    await sendBlob(blobs, req, res, { sha256: bundle.sha256!, size: bundle.size!, filename });
    return;
  }
  res.set({
    ETag: `"${bundle.sha256}"`,
    "X-Checksum-Sha256": bundle.sha256!,
    "Accept-Ranges": "none",
    "Content-Type": "application/octet-stream",
    "Content-Length": String(bundle.size),
    "X-Bundle-Parts": String(parts.length),
  });
  res.attachment(filename);
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  const controller = new AbortController();
  res.on("close", () => controller.abort());
  // One pipeline over all parts in order: a pipeline per part with `end: false` left its
  // listeners on the response until it closed (eleven parts warned of a listener leak).
  const buffers = downloadBuffers(Number(bundle.size));
  const concatenated = async function* () {
    for (const p of parts) yield* await blobs.open(p.sha256, { signal: controller.signal, buffers });
  };
  try {
    await pipeline(concatenated, responseWriter(res));
  } catch (error) {
    if (controller.signal.aborted) return;
    res.destroy();
    throw error;
  }
}
