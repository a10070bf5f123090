/**
 * multer with a storage engine that streams each file part straight into the blob store:
 * no memory buffering, no temporary copy beyond the blob store's own atomic publish.
 *
 * Bad input stores nothing and leaves nothing (SPEC §8): the fields and each file name are
 * validated before a file's bytes are stored, and when the request fails after some files
 * were stored (a later part is bad, the body is cut off, a limit is hit) multer hands them
 * back to `_removeFile`, which removes the blobs this request created. Multipart syntax
 * errors and limits are the client's fault: 400 (413 for a file over the upload limit).
 */
import type { Request, RequestHandler } from "express";
import multer, { MulterError, type StorageEngine } from "multer";
import type { z } from "zod";
import type { Db } from "../db/client.js";
import { AppError, badRequest, payloadTooLarge, validationFailed } from "../errors.js";
import { discardUnreferenced } from "../gc/gc.service.js";
import { checkInputText } from "../http/route.js";
import type { BlobStore } from "../storage/blob-store.js";
import { Filename } from "./artifacts.schema.js";

export interface StoredPart {
  sha256: string;
  size: number;
  /** False when the content was already stored: such a blob is never removed on failure. */
  created: boolean;
}

interface Deps {
  db: Db;
  blobs: BlobStore;
}

/** A busboy/multer failure on the body itself, as opposed to storage failing. */
class MultipartSyntaxError extends Error {}

class BlobStorageEngine implements StorageEngine {
  constructor(
    private readonly deps: Deps,
    private readonly maxBytes: number,
  ) {}

  _handleFile(_req: Request, file: Express.Multer.File, callback: (error?: unknown, info?: Partial<Express.Multer.File> & StoredPart) => void): void {
    // The part's stream erroring (the body cut off mid-file) is the client's fault.
    let streamError: Error | undefined;
    file.stream.once("error", (error: Error) => {
      streamError = error;
    });
    this.deps.blobs
      .put(file.stream, { maxBytes: this.maxBytes })
      .then((blob) => callback(null, { sha256: blob.sha256, size: Number(blob.size), created: blob.created }))
      .catch((error: unknown) => callback(streamError && !(error instanceof AppError) ? new MultipartSyntaxError(streamError.message) : error));
  }

  _removeFile(_req: Request, file: Express.Multer.File & Partial<StoredPart>, callback: (error: Error | null) => void): void {
    // Only what this request created: a blob that was already stored belongs to others.
    if (!file.created || !file.sha256) return callback(null);
    discardUnreferenced(this.deps, [file.sha256]).then(
      () => callback(null),
      () => callback(null),
    );
  }
}

/**
 * Checks, before a file part is stored, that the fields so far (which must include
 * component and version) are valid and that the file name is one.
 */
function acceptFile(fields: z.ZodType) {
  return (req: Request, file: Express.Multer.File, callback: (error: Error | null, accept?: boolean) => void): void => {
    const given = (req.body ?? {}) as Record<string, unknown>;
    try {
      // Fields after the files would arrive too late to validate before storing anything.
      if (typeof given.component !== "string" || typeof given.version !== "string") {
        throw badRequest("fields_before_files", "send the component and version fields before the file parts");
      }
      checkInputText({ ...given }, "fields");
      const parsed = fields.safeParse({ ...given });
      if (!parsed.success) throw validationFailed(`invalid form fields: ${parsed.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
      const name = Filename.safeParse(file.originalname);
      if (!name.success) throw validationFailed(`invalid filename ${JSON.stringify(String(file.originalname).slice(0, 300))}: ${name.error.issues[0]?.message}`);
      callback(null, true);
    } catch (error) {
      callback(error as Error);
    }
  };
}

const LIMIT_MESSAGES: Partial<Record<string, string>> = {
  LIMIT_PART_COUNT: "too many parts",
  LIMIT_FILE_COUNT: "too many files (at most 100)",
  LIMIT_FIELD_COUNT: "too many fields",
  LIMIT_FIELD_KEY: "a field name is too long",
  LIMIT_FIELD_VALUE: "a field value is too long",
  LIMIT_UNEXPECTED_FILE: "files go in parts named `file`",
};

/** Multer's and busboy's errors about the body, as 4xx; storage errors pass unchanged. */
function asClientError(error: unknown, maxBytes: number): unknown {
  if (error instanceof AppError) return error;
  if (error instanceof MulterError) {
    if (error.code === "LIMIT_FILE_SIZE") return payloadTooLarge(`uploads are limited to ${maxBytes} bytes`);
    return badRequest("invalid_multipart", `${LIMIT_MESSAGES[error.code] ?? error.message}${error.field ? ` (${JSON.stringify(error.field.slice(0, 100))})` : ""}`, { reason: error.code.toLowerCase() });
  }
  if (error instanceof MultipartSyntaxError) return badRequest("invalid_multipart", `the multipart body is malformed: ${error.message}`);
  const message = error instanceof Error ? error.message : "";
  // busboy's own parse errors (and multer's "Request aborted/closed") carry no code.
  if (error instanceof Error && !(error as { code?: unknown }).code && /multipart|boundary|form|part header|request (aborted|closed)|unexpected end/i.test(message)) {
    return badRequest("invalid_multipart", `the multipart body is malformed: ${message}`);
  }
  return error;
}

export function multipartUpload(deps: Deps, maxBytes: number, fields: z.ZodType): RequestHandler {
  const upload = multer({
    storage: new BlobStorageEngine(deps, maxBytes),
    fileFilter: acceptFile(fields),
    // Keep the file name as sent: `../../etc/passwd` is refused, not quietly stored as `passwd`.
    preservePath: true,
    limits: { files: 100, fields: 20, fieldSize: 64 * 1024, parts: 130, headerPairs: 200 },
  }).array("file", 100);
  return (req, res, next) => {
    upload(req, res, (error?: unknown) => next(error === undefined ? undefined : asClientError(error, maxBytes)));
  };
}

/** Removes the blobs stored for `files` that this request created (when the handler refuses the request). */
export async function discardParts(deps: Deps, files: Array<Partial<StoredPart>>): Promise<void> {
  await discardUnreferenced(
    deps,
    files.flatMap((file) => (file.created && file.sha256 ? [file.sha256] : [])),
  );
}
