/**
 * Download links for browsers. A browser cannot put a bearer token on a plain link, so a
 * signed-in user asks for a link first (access is checked then) and gets a URL holding a
 * ticket: base64url(JSON payload) "." base64url(HMAC-SHA256). The payload names exactly
 * one download (an artifact, or a bundle or one of its parts), the ticket's purpose and its
 * expiry; the key is derived from the server secret for this purpose only, so a ticket is
 * never a session token and a session token is never a ticket. Tickets are only accepted
 * by GET /downloads/:ticket, and logs show only their first characters. A ticket also names
 * the user, and the API token, it was asked for with: disabling that user or revoking that
 * token ends the links it got at once, not when they expire.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError, forbidden } from "../errors.js";

export type DownloadTarget =
  | { kind: "artifact"; component: string; version: string; filename: string }
  | { kind: "bundle"; id: string; part?: number };

/** The user a link was asked for by, and the API token when it was asked for with one. */
export interface LinkIssuer {
  userId: string;
  tokenId?: string;
}

interface Payload {
  use: "download";
  target: DownloadTarget;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
  /** Who asked for the link (for the access log of the download). */
  by: string;
  /** Checked again when the link is used. */
  issuer: LinkIssuer;
}

export const DOWNLOAD_TICKET_PATTERN = /^[A-Za-z0-9_-]{16,3000}\.[A-Za-z0-9_-]{43}$/;
const PURPOSE = "ferry download ticket v1";
/** How much of a ticket a log line keeps: enough to tell two apart, far too little to use. */
const LOGGED_CHARS = 12;

export const invalidLink = () => forbidden("invalid_download_link", "this download link is not valid; ask the console for a new one");
export const expiredLink = () => new AppError(410, "download_link_expired", "this download link has expired; ask the console for a new one");
export const revokedLink = () =>
  forbidden("download_link_revoked", "the account or API token this download link was made for has been disabled or revoked since");

export class DownloadTickets {
  private readonly key: Buffer;

  constructor(
    serverSecret: string,
    readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac("sha256", serverSecret).update(PURPOSE).digest();
  }

  issue(target: DownloadTarget, by: string, issuer: LinkIssuer): { ticket: string; expiresAt: Date } {
    const exp = this.now() + this.ttlMs;
    const payload: Payload = { use: "download", target, exp, by, issuer };
    const body = Buffer.from(JSON.stringify(payload)).toString("base64url");
    return { ticket: `${body}.${this.sign(body)}`, expiresAt: new Date(exp) };
  }

  /** The download a ticket stands for; 403 invalid_download_link or 410 download_link_expired otherwise. */
  verify(ticket: string): { target: DownloadTarget; by: string; issuer: LinkIssuer } {
    const [body, signature] = ticket.split(".");
    if (!body || !signature || !DOWNLOAD_TICKET_PATTERN.test(ticket)) throw invalidLink();
    const expected = Buffer.from(this.sign(body), "base64url");
    const given = Buffer.from(signature, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidLink();
    let payload: Payload;
    try {
      payload = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as Payload;
    } catch {
      throw invalidLink();
    }
    if (payload?.use !== "download" || typeof payload.exp !== "number" || !payload.target) throw invalidLink();
    // Links made before tickets named their issuer (at most ttlMs old) are refused: a new one is a click away.
    const issuer = payload.issuer;
    if (typeof issuer?.userId !== "string" || (issuer.tokenId !== undefined && typeof issuer.tokenId !== "string")) throw invalidLink();
    if (payload.exp <= this.now()) throw expiredLink();
    return { target: payload.target, by: String(payload.by), issuer: { userId: issuer.userId, ...(issuer.tokenId ? { tokenId: issuer.tokenId } : {}) } };
  }

  private sign(body: string): string {
    return createHmac("sha256", this.key).update(body).digest("base64url");
  }
}

/** The API path of a download link. */
export function downloadLinkPath(ticket: string): string {
  return `/api/v1/downloads/${ticket}`;
}

/** A URL with any download ticket (in a /downloads/ path or a `ticket=` query) cut to its first characters, for logs. */
export function redactDownloadTickets(url: string): string {
  return url.replace(/(\/downloads\/|[?&]ticket=)([^/?&#]+)/g, (_, prefix: string, ticket: string) => `${prefix}${redactTicket(ticket)}`);
}

function redactTicket(ticket: string): string {
  return `${ticket.slice(0, LOGGED_CHARS)}…`;
}
