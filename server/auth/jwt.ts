/** Session JWTs for the web console and `ferry login`: HS256 pinned, with expiry. */
import { createSecretKey, type KeyObject } from "node:crypto";
import jwt from "jsonwebtoken";

/**
 * jsonwebtoken turns a string secret into a KeyObject on every call, which showed up as
 * about 5% of a list request's CPU; the process has one secret, so make its key once.
 */
let cachedKey: { secret: string; key: KeyObject } | undefined;
function secretKey(secret: string): KeyObject {
  if (cachedKey?.secret !== secret) cachedKey = { secret, key: createSecretKey(Buffer.from(secret, "utf8")) };
  return cachedKey.key;
}

export interface SessionClaims {
  sub: string;
  username: string;
}

export function signSession(secret: string, claims: SessionClaims, ttlHours: number): { token: string; expiresAt: Date } {
  const expiresAt = new Date(Date.now() + ttlHours * 3600_000);
  const token = jwt.sign({ username: claims.username }, secretKey(secret), {
    algorithm: "HS256",
    subject: claims.sub,
    expiresIn: Math.round(ttlHours * 3600),
    issuer: "ferry",
  });
  return { token, expiresAt };
}

/** Returns the claims, or null for anything not a valid, unexpired HS256 token of ours. */
export function verifySession(secret: string, token: string): SessionClaims | null {
  try {
    // Pinning the algorithm refuses `alg: none` and algorithm-confusion tokens.
    const payload = jwt.verify(token, secretKey(secret), { algorithms: ["HS256"], issuer: "ferry" });
    if (typeof payload !== "object" || typeof payload.sub !== "string" || typeof payload.username !== "string") return null;
    return { sub: payload.sub, username: payload.username };
  } catch {
    return null;
  }
}
