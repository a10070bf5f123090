/**
 * Streams one file to `PUT /api/v1/artifacts/:component/:version/:filename`.
 * XMLHttpRequest sends a File straight from disk (the browser never reads it into memory)
 * and, unlike fetch, reports upload progress.
 */
import { API_BASE, ApiError, errorFromBody, getToken, notifyUnauthorized, pathOf } from "./client";
import type { Artifact } from "./types";

export interface UploadTarget {
  component: string;
  version: string;
  filename: string;
  kind?: string;
  sha256?: string;
  /** For SQL scripts; Flyway file names fill in type and order when not given. */
  sql?: { database?: string; dialect?: string; type?: string };
}

export interface UploadResult {
  artifact: Artifact;
  /** 201 for new content, 200 when the same content was already there. */
  status: number;
}

export interface UploadHandle {
  promise: Promise<UploadResult>;
  abort(): void;
}

export function uploadArtifact(file: Blob, target: UploadTarget, onProgress: (loaded: number, total: number) => void): UploadHandle {
  const xhr = new XMLHttpRequest();
  const promise = new Promise<UploadResult>((resolve, reject) => {
    xhr.open("PUT", `${API_BASE}/artifacts/${pathOf(target.component, target.version, target.filename)}`);
    const token = getToken();
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.setRequestHeader("X-Requested-With", "XMLHttpRequest");
    if (target.kind) xhr.setRequestHeader("X-Artifact-Kind", target.kind);
    if (target.sha256) xhr.setRequestHeader("X-Checksum-Sha256", target.sha256);
    if (target.sql?.database) xhr.setRequestHeader("X-Sql-Database", target.sql.database);
    if (target.sql?.dialect) xhr.setRequestHeader("X-Sql-Dialect", target.sql.dialect);
    if (target.sql?.type) xhr.setRequestHeader("X-Sql-Type", target.sql.type);
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(file.size, file.size);
        try {
          resolve({ artifact: JSON.parse(xhr.responseText) as Artifact, status: xhr.status });
        } catch {
          reject(new ApiError(xhr.status, "bad_response", "The server's answer could not be read."));
        }
        return;
      }
      if (xhr.status === 401) notifyUnauthorized();
      reject(errorFromBody(xhr.status, xhr.responseText));
    };
    xhr.onerror = () => reject(new ApiError(0, "network_error", "The upload was interrupted: the server could not be reached."));
    xhr.onabort = () => reject(new ApiError(0, "aborted", "The upload was cancelled."));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}
