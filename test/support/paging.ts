/**
 * Walks a keyset-paged list endpoint (SPEC §4: `?limit=&cursor=` → `{items, nextCursor}`)
 * to its end, checking the contract on every page, and sends cursors no server returned.
 */
import assert from "node:assert/strict";
import type { TestServer } from "./server.js";

/** Every item of every page, in order. `between` runs after each page (to write rows mid-walk). */
export async function walkPages(
  server: TestServer,
  token: string,
  path: string,
  options: { limit: number; between?: (page: number) => Promise<void> },
): Promise<any[]> {
  const items: any[] = [];
  let cursor: string | null = null;
  for (let page = 1; ; page++) {
    assert.ok(page < 10_000, `${path} never ended`);
    const url: string = `${path}${path.includes("?") ? "&" : "?"}limit=${options.limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const response = await server.call("GET", url, { token });
    assert.equal(response.status, 200, `${url}: ${response.text}`);
    assert.ok(Array.isArray(response.body.items), `${url}: items`);
    assert.ok("nextCursor" in response.body, `${url}: nextCursor present (null at the end)`);
    assert.ok(response.body.items.length <= options.limit, `${url}: at most limit items`);
    items.push(...response.body.items);
    cursor = response.body.nextCursor;
    if (!cursor) return items;
    assert.equal(typeof cursor, "string");
    assert.equal(response.body.items.length, options.limit, `${url}: a page before the last is full`);
    await options.between?.(page);
  }
}

export const b64 = (value: unknown) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

/** Cursors no (createdAt, id) list returns. */
export const BAD_TIME_ID_CURSORS = ["not-a-cursor", "abc!", "%%", b64("null"), b64({ createdAt: "2026-01-01T00:00:00.000Z", id: "x" }), b64(["2026-01-01T00:00:00.000Z"]), b64(["yesterday", "x"]), b64([1, 2]), b64(["2026-01-01T00:00:00.000Z", "x", "extra"]), b64("[")];

/** Cursors no by-name list returns. */
export const BAD_NAME_CURSORS = ["not-a-cursor", "abc!", b64("null"), b64([]), b64([1]), b64([""]), b64(["a", "b"]), b64({ name: "a" }), "x".repeat(301)];

/** Each cursor is refused with 400 (`invalid_cursor`, or `validation_failed` when over the length limit). */
export async function assertCursorsRefused(server: TestServer, token: string, path: string, cursors: string[]): Promise<void> {
  for (const cursor of cursors) {
    const url = `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}`;
    const response = await server.call("GET", url, { token });
    assert.equal(response.status, 400, `${url}: ${response.text}`);
    assert.ok(["invalid_cursor", "validation_failed"].includes(response.body?.error?.code), `${url}: ${response.text}`);
  }
}

/** Asserts each key appears exactly once and the set is exactly `expected`. */
export function assertEachOnce(seen: string[], expected: string[], what: string): void {
  const counts = new Map<string, number>();
  for (const key of seen) counts.set(key, (counts.get(key) ?? 0) + 1);
  const repeated = [...counts].filter(([, n]) => n > 1).map(([key]) => key);
  assert.deepEqual(repeated, [], `${what} seen more than once`);
  assert.deepEqual([...counts.keys()].sort(), [...expected].sort(), `${what}: exactly the expected rows`);
}
