/**
 * Request ids and the access log: every response carries X-Request-Id (the caller's, when
 * it is a sane token, else a new UUID), and each request ends in one log line (method,
 * path, status, time) at info, warn for 4xx and aborted requests, error for 5xx.
 *
 * This replaces pino-http, which made a child logger holding the serialized request for
 * every request, whether or not anything would be logged: at a thousand agent heartbeats
 * a second that was about a twentieth of the server's CPU. Here nothing is serialized
 * unless its level is enabled, and `req.log` is made only when a handler asks for it.
 * Download tickets in paths are cut short (a ticket is a credential until it expires).
 */
import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";
import type { Logger } from "../logger.js";
import { redactDownloadTickets } from "../downloads/downloads.tickets.js";

declare module "node:http" {
  interface IncomingMessage {
    /** This request's id, as sent back in X-Request-Id. */
    id: string;
    /** A logger bound to this request (its id, method and path). */
    log: Logger;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,100}$/;

export interface RequestLogOptions {
  /** Paths whose successful requests are not logged (health probes, metrics scrapes). */
  quietPaths: ReadonlySet<string>;
}

export function requestLog(logger: Logger, options: RequestLogOptions): RequestHandler {
  return (req, res, next) => {
    const given = req.headers["x-request-id"];
    const id = typeof given === "string" && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader("X-Request-Id", id);
    req.id = id;
    const started = process.hrtime.bigint();
    const describe = () => ({ id, method: req.method, url: redactDownloadTickets(req.originalUrl), remoteAddress: req.socket.remoteAddress });
    let bound: Logger | undefined;
    Object.defineProperty(req, "log", {
      configurable: true,
      enumerable: false,
      get: () => (bound ??= logger.child({ req: describe() })),
    });

    const done = () => {
      res.removeListener("finish", done);
      res.removeListener("close", done);
      const status = res.statusCode;
      const aborted = !res.writableFinished;
      const level = status >= 500 ? "error" : status >= 400 || aborted ? "warn" : "info";
      if (!logger.isLevelEnabled(level)) return;
      if (level === "info" && options.quietPaths.has(req.originalUrl.split("?", 1)[0]!)) return;
      const responseTime = Number(process.hrtime.bigint() - started) / 1e6;
      logger[level]({ req: describe(), res: { statusCode: status }, responseTime: Math.round(responseTime * 10) / 10 }, aborted ? "request aborted" : "request completed");
    };
    res.on("finish", done);
    res.on("close", done);
    next();
  };
}
