/**
 * multer with a storage engine that streams each file part straight into the blob store:
 * no memory buffering, no temporary copy beyond the blob store's own atomic publish.
 */
import type { Request } from "express";
import multer, { type StorageEngine } from "multer";
import { badRequest } from "../errors.js";
import type { BlobStore } from "../storage/blob-store.js";

export interface StoredPart {
  sha256: string;
  size: number;
}

class BlobStorageEngine implements StorageEngine {
  constructor(
    private readonly blobs: BlobStore,
    private readonly maxBytes: number,
  ) {}

  _handleFile(req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<Express.Multer.File> & StoredPart) => void): void {
    const fields = (req.body ?? {}) as Record<string, unknown>;
    // Fields after the files would arrive too late to validate before storing anything.
    if (typeof fields.component !== "string" || typeof fields.version !== "string") {
      file.stream.resume();
      callback(badRequest("fields_before_files", "send the component and version fields before the file parts"));
      return;
    }
    this.blobs
      .put(file.stream, { maxBytes: this.maxBytes })
      .then((blob) => callback(null, { sha256: blob.sha256, size: Number(blob.size) }))
      .catch((error: unknown) => callback(error));
  }

  _removeFile(_req: Request, _file: Express.Multer.File, callback: (error: Error | null) => void): void {
    // The blob may already be shared with other artifacts; unreferenced blobs are collected by `ferry gc`.
    callback(null);
  }
}

export function multipartUpload(blobs: BlobStore, maxBytes: number) {
  return multer({
    storage: new BlobStorageEngine(blobs, maxBytes),
    limits: { files: 100, fields: 20, fieldSize: 64 * 1024, parts: 130, headerPairs: 200 },
  }).array("file", 100);
}
