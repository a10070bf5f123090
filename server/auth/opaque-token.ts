/**
 * Opaque bearer secrets (API tokens, site agent tokens). Only the SHA-256 of a secret is
 * stored, so a database leak does not leak usable tokens. The prefix tells them apart
 * and makes them easy to find with secret scanners.
 */
import { createHash, randomBytes } from "node:crypto";

export const API_TOKEN_PREFIX = "fry_";
export const SITE_TOKEN_PREFIX = "frs_";

export function newOpaqueToken(prefix: string): string {
  return prefix + randomBytes(32).toString("base64url");
}

export function hashOpaqueToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
