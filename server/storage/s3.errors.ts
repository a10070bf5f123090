/**
 * How S3 failures surface to the rest of Ferry: a missing object is `notFound`; a store that
 * cannot be reached or used (network, timeouts, 5xx, a missing bucket, refused credentials)
 * is `unavailable("storage_unavailable")`, which the HTTP layer turns into 503 and /readyz
 * into "not ready". Everything else passes through unchanged and becomes a logged 500.
 */
import { AppError, notFound, unavailable } from "../errors.js";

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ECONNABORTED",
]);

const UNUSABLE_STORE = new Set([
  "NoSuchBucket",
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "TimeoutError",
  "RequestTimeout",
  "SlowDown",
  "ServiceUnavailable",
  "InternalError",
]);

function shape(error: unknown): SdkErrorShape {
  return typeof error === "object" && error !== null ? (error as SdkErrorShape) : {};
}

export function isS3NotFound(error: unknown): boolean {
  const { name, $metadata } = shape(error);
  if (name === "NoSuchKey" || name === "NotFound") return true;
  return $metadata?.httpStatusCode === 404 && name !== "NoSuchBucket";
}

/** True for errors meaning "this store does not implement that call" (S3-compatible servers vary). */
export function isS3NotImplemented(error: unknown): boolean {
  const { name, $metadata } = shape(error);
  return name === "NotImplemented" || name === "MethodNotAllowed" || $metadata?.httpStatusCode === 501 || $metadata?.httpStatusCode === 405;
}

export function isS3Unavailable(error: unknown): boolean {
  const { name, code, $metadata, cause } = shape(error);
  if (code && CONNECTION_CODES.has(code)) return true;
  if (name && UNUSABLE_STORE.has(name)) return true;
  const status = $metadata?.httpStatusCode;
  if (status !== undefined && status >= 500 && status !== 501) return true;
  return cause !== undefined && cause !== error && isS3Unavailable(cause);
}

/** Maps an SDK error to Ferry's domain errors; `what` names the object for messages. */
export function mapS3Error(error: unknown, what: { bucket: string; key?: string }): unknown {
  if (error instanceof AppError) return error;
  const { name } = shape(error);
  if (name === "AbortError") return error;
  if (what.key !== undefined && isS3NotFound(error)) return notFound("object", what.key);
  if (isS3Unavailable(error)) {
    const reason = name === "NoSuchBucket" ? `bucket ${what.bucket} does not exist` : describe(error);
    return unavailable("storage_unavailable", `object storage is unavailable: ${reason}`);
  }
  return error;
}

function describe(error: unknown): string {
  const { name, code, message } = shape(error);
  return [code ?? name, message].filter(Boolean).join(": ") || "unknown error";
}
