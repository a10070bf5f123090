/**
 * Domain errors with a status and a stable snake_case code (SPEC §4). Services throw these;
 * server/http/error-handler.ts maps them (and Prisma/S3 errors) to the wire shape.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new AppError(400, code, message, details);

export const validationFailed = (message: string, details?: unknown) => new AppError(400, "validation_failed", message, details);

export const unauthorized = (message = "authentication required") =>
  new AppError(401, "unauthorized", message, undefined, { "WWW-Authenticate": 'Basic realm="ferry", charset="UTF-8"' });

export const forbidden = (code: string, message: string, details?: unknown) => new AppError(403, code, message, details);

export const notFound = (what: string, ref?: string) =>
  new AppError(404, "not_found", ref === undefined ? `${what} not found` : `${what} ${ref} not found`, { resource: what, ref });

export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, details);

export const payloadTooLarge = (message: string) => new AppError(413, "payload_too_large", message);

export const rangeNotSatisfiable = (size: bigint | number) =>
  new AppError(416, "range_not_satisfiable", "requested range is not satisfiable", { size: Number(size) }, { "Content-Range": `bytes */${size}` });

export const tooManyRequests = (message: string, retryAfterSeconds: number) =>
  new AppError(429, "too_many_requests", message, undefined, { "Retry-After": String(retryAfterSeconds) });

export const unavailable = (code: string, message: string) => new AppError(503, code, message);
