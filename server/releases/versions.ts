/**
 * Release and component versions. Semver where both sides are semver (pre-releases sort
 * before their release); otherwise dot/dash segments compared numerically when numeric,
 * so `2.10` follows `2.9` and four-part versions like `2.4.0.1` order sensibly too.
 */
import semver from "semver";
import { compareCodeUnits } from "../util/compare.js";

/** Semver-ish: digits and dots, optional `-pre.release` and `+build`; never a slash. */
export const RELEASE_VERSION = /^\d+(\.\d+){0,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;
/** Component versions are whatever artifacts were uploaded under: a safe path segment. */
export const COMPONENT_VERSION = /^[0-9A-Za-z][0-9A-Za-z._+-]{0,127}$/;
export const PRODUCT_NAME = /^[a-z][a-z0-9._-]{0,62}$/;

export function compareVersions(a: string, b: string): number {
  if (semver.valid(a) && semver.valid(b)) return semver.compare(a, b);
  const segments = (value: string) => value.split(/[.+-]/);
  const left = segments(a);
  const right = segments(b);
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const x = left[i];
    const y = right[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const numeric = /^\d+$/.test(x) && /^\d+$/.test(y);
    const order = numeric ? Number(x) - Number(y) : compareCodeUnits(x, y);
    if (order !== 0) return Math.sign(order);
  }
  return 0;
}
