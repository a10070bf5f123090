/**
 * Orders strings by their UTF-16 code units, as `Array.prototype.sort()` does without a
 * comparator, for use inside comparators that sort on several keys.
 *
 * Not `localeCompare`: its order follows the server's locale and ICU version (`"i"` and
 * `"I"` swap places under LANG=tr_TR), and it calls distinct strings equal when they differ
 * only by characters collation ignores (`"a\u200Bb"` and `"ab"`), which leaves their order
 * to the input. A release digest is computed over a sorted set, and a different server or
 * Node.js upgrade must compute the same one. Code-unit order is also SemVer's rule for
 * pre-release identifiers ("ASCII sort order").
 */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
