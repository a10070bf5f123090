/**
 * Text the server will take. Command output is arbitrary bytes: a NUL (from `cat` of a
 * binary, say) or a lone UTF-16 surrogate (a line cut in the middle of a pair) makes the
 * server refuse the whole request with 400 (SPEC §4: PostgreSQL cannot store either), and
 * a refused batch of events would hold back every log line and the final status after it.
 * Both are replaced with U+FFFD, the Unicode replacement character, on the way out.
 */
/** A UTF-16 surrogate without its partner. The server refuses the same in every request (server/http/route.ts). */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UNSENDABLE = new RegExp(`\\u0000|${LONE_SURROGATE.source}`, "g");

export function sendableText(text: string): string {
  return text.replace(UNSENDABLE, "\ufffd");
}

/** JSON.stringify with every string (and object key) made sendable. */
export function sendableJson(value: unknown): string {
  return JSON.stringify(value, function (this: unknown, key: string, item: unknown) {
    if (typeof item === "string") return sendableText(item);
    if (item && typeof item === "object" && !Array.isArray(item) && Object.keys(item).some((k) => sendableText(k) !== k)) {
      return Object.fromEntries(Object.entries(item).map(([k, v]) => [sendableText(k), v]));
    }
    return item;
  });
}
