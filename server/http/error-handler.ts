/**
 * The one place errors become responses (SPEC §4 wire shape). Domain errors keep their
 * status and code; known library errors are translated; anything else is logged with the
 * request id and answered with a generic 500, never a stack trace.
 */
import type { ErrorRequestHandler, RequestHandler } from "express";
import { AppError } from "../errors.js";

interface WireError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

function fromBodyParser(error: { type?: string; status?: number; message?: string }): WireError | null {
  switch (error.type) {
    case "entity.parse.failed":
      return { status: 400, code: "malformed_json", message: "request body is not valid JSON" };
    case "entity.too.large":
      return { status: 413, code: "payload_too_large", message: "request body is too large" };
    case "encoding.unsupported":
    case "charset.unsupported":
      return { status: 415, code: "unsupported_encoding", message: error.message ?? "unsupported encoding" };
    case "request.aborted":
      return { status: 400, code: "request_aborted", message: "the client aborted the request" };
    default:
      return null;
  }
}

/**
 * Other client errors raised before a route runs: a path parameter whose percent-encoding
 * does not decode (the router's URIError, `%ff` or a lone `%`), a body whose
 * Content-Encoding does not inflate (zlib's error, wrapped by body-parser). Both carry a 4xx
 * `status` and `expose` from http-errors; without this they became a 500.
 */
function fromHttpError(error: { status?: unknown; expose?: unknown; name?: string; message?: string }): WireError | null {
  const status = typeof error.status === "number" ? error.status : undefined;
  if (status === undefined || status < 400 || status >= 500) return null;
  if (error.name === "URIError") return { status: 400, code: "malformed_uri", message: "the request path is not valid percent-encoded UTF-8" };
  if (error.expose !== true) return null;
  return { status, code: status === 400 ? "bad_request" : "client_error", message: error.message ?? "bad request" };
}

/**
 * What PostgreSQL refuses in a value a client sent, should one slip past validation
 * (route.ts refuses NUL characters first): a byte sequence it cannot store (22021), a
 * character it cannot convert (22P05).
 */
function fromDataError(error: { meta?: { driverAdapterError?: { cause?: { originalCode?: string; code?: string } } } }): WireError | null {
  const cause = error.meta?.driverAdapterError?.cause;
  const sqlState = cause?.originalCode ?? cause?.code;
  if (sqlState === "22021" || sqlState === "22P05") return { status: 400, code: "invalid_text", message: "a value holds characters that cannot be stored" };
  return null;
}

function fromPrisma(error: { code?: string; meta?: { target?: unknown; modelName?: string } }): WireError | null {
  if (error.code === "P2002") return { status: 409, code: "already_exists", message: "a record with these values already exists", details: { fields: error.meta?.target } };
  if (error.code === "P2025") return { status: 404, code: "not_found", message: `${error.meta?.modelName ?? "record"} not found` };
  if (error.code === "P2003") return { status: 409, code: "in_use", message: "the record is referenced by another record" };
  if (error.code === "P1001" || error.code === "P1017" || error.code === "P2024") {
    return { status: 503, code: "database_unavailable", message: "the database is unavailable; try again" };
  }
  // A request's transaction could not start in time (every connection busy; on PGlite, another
  // transaction still open) or outlived its timeout and was rolled back: nothing was changed.
  if (error.code === "P2028") return { status: 503, code: "database_busy", message: "the database is busy; nothing was changed, try again" };
  return null;
}

/**
 * Prisma 7 over a driver adapter reports a lost PostgreSQL connection (the server restarted,
 * or terminated the backend: SQLSTATE 57P01) as a generic known-request error (e.g. P2039)
 * carrying the driver's error in meta.driverAdapterError; without this it became a 500.
 */
function fromDriverAdapter(error: { meta?: { driverAdapterError?: { cause?: { kind?: string; code?: string; originalCode?: string } } } }): WireError | null {
  const cause = error.meta?.driverAdapterError?.cause;
  if (!cause) return null;
  const sqlState = cause.originalCode ?? cause.code ?? "";
  const lost = /^(57P0[1-3]|08)/.test(sqlState) || ["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"].includes(cause.kind ?? "");
  return lost ? { status: 503, code: "database_unavailable", message: "the database is unavailable; try again" } : null;
}

/** The disk (blob directory, temp space) or the user's quota is full: 507, not a 500 (SPEC §8: a clear error). */
function fromDisk(error: { code?: string }): WireError | null {
  if (error.code === "ENOSPC" || error.code === "EDQUOT") {
    return { status: 507, code: "insufficient_storage", message: "the server has no storage space left for this request" };
  }
  return null;
}

function fromConnection(error: { code?: string; name?: string; message?: string }): WireError | null {
  const codes = ["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P03", "08006", "08001"];
  if (error.code && codes.includes(error.code)) {
    return { status: 503, code: "service_unavailable", message: "a backing service is unavailable; try again" };
  }
  // pg's own messages for a connection that died mid-transaction (the adapter passes them through as plain Errors).
  if (typeof error.message === "string" && /Connection terminated|connect ECONNREFUSED|DatabaseNotReachable|connection error and is not queryable|terminating connection due to/i.test(error.message)) {
    return { status: 503, code: "database_unavailable", message: "the database is unavailable; try again" };
  }
  return null;
}

export function toWireError(error: unknown): WireError | null {
  if (error instanceof AppError) {
    return { status: error.status, code: error.code, message: error.message, details: error.details, headers: error.headers };
  }
  if (error && typeof error === "object") {
    return (
      fromBodyParser(error as never) ?? fromHttpError(error as never) ?? fromDriverAdapter(error as never) ?? fromDataError(error as never) ?? fromPrisma(error as never) ?? fromDisk(error as never) ?? fromDisk((error as { cause?: never }).cause ?? {}) ?? fromConnection(error as never) ?? fromConnection((error as { cause?: never }).cause ?? {})
    );
  }
  return null;
}

export const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  const wire = toWireError(error);
  if (!wire || wire.status >= 500) {
    req.log?.error({ err: error, requestId: req.id }, "request failed");
  }
  const body = wire
    ? { error: { code: wire.code, message: wire.message, ...(wire.details === undefined ? {} : { details: wire.details }) } }
    : { error: { code: "internal_error", message: `internal error; quote request id ${String(req.id)} to your administrator`, details: { requestId: req.id } } };
  if (res.headersSent) {
    // A streaming response already started: the only honest signal left is to cut it.
    res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  // A handler may have set a download's entity headers before it failed (a 416 from
  // send-blob went out as `application/octet-stream` with Content-Disposition): errors are JSON.
  res.removeHeader("Content-Disposition");
  res.type("application/json");
  if (wire?.headers) {
    const headers = { ...wire.headers };
    // A Basic challenge makes browsers open their own password box (and hangs headless
    // ones); the web console marks its requests, and gets a plain 401 it handles itself.
    if (req.get("x-requested-with") === "XMLHttpRequest") delete headers["WWW-Authenticate"];
    res.set(headers);
  }
  res.status(wire?.status ?? 500).json(body);
};

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json({ error: { code: "route_not_found", message: `no route for ${req.method} ${req.path}` } });
};
