/**
 * Opaque keyset cursors for list endpoints (SPEC §4: `?limit=&cursor=` → `{items, nextCursor}`).
 * A cursor is the sort key of the last row of the previous page, as base64url JSON; clients
 * pass back what they were given and never build one. A cursor this server cannot have
 * returned is 400 `invalid_cursor`, never a silent first page.
 */
import { badRequest } from "../errors.js";

export interface TimeIdKey {
  createdAt: Date;
  id: string;
}

const invalidCursor = () => badRequest("invalid_cursor", "cursor is not one this server returned");

function decodeJsonArray(cursor: string): unknown[] {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalidCursor();
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value)) return value;
  } catch {
    // fall through
  }
  throw invalidCursor();
}

/** Cursor for lists sorted newest first by (createdAt, id). */
export function encodeTimeIdCursor(row: TimeIdKey): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString("base64url");
}

export function decodeTimeIdCursor(cursor: string): TimeIdKey {
  const [at, id, ...rest] = decodeJsonArray(cursor);
  const createdAt = typeof at === "string" ? new Date(at) : new Date(Number.NaN);
  if (rest.length || typeof id !== "string" || !id || id.length > 100 || Number.isNaN(createdAt.getTime())) throw invalidCursor();
  return { createdAt, id };
}

/**
 * Prisma condition for the rows after `key` in (createdAt DESC, id DESC) order. The
 * `createdAt <= key` term bounds an index scan at the cursor; the OR alone cannot be
 * bounded (see releases.repo.ts).
 */
export function olderThan(key: TimeIdKey) {
  return { createdAt: { lte: key.createdAt }, OR: [{ createdAt: { lt: key.createdAt } }, { createdAt: key.createdAt, id: { lt: key.id } }] };
}

/** Cursor for lists sorted by one unique text column (e.g. a username). */
export function encodeNameCursor(name: string): string {
  return Buffer.from(JSON.stringify([name])).toString("base64url");
}

export function decodeNameCursor(cursor: string): string {
  const [name, ...rest] = decodeJsonArray(cursor);
  if (rest.length || typeof name !== "string" || !name || name.length > 200) throw invalidCursor();
  return name;
}

/** Splits a `limit + 1` fetch into the page and the cursor of the next one. */
export function pageOf<T>(rows: T[], limit: number, cursorOf: (last: T) => string): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? cursorOf(items[items.length - 1]!) : null };
}
