/**
 * Resolves `Authorization` into `req.actor`. Missing credentials leave the request
 * anonymous (the route's access rule decides); wrong credentials are refused at once.
 */
import type { RequestHandler } from "express";
import { unauthorized } from "../errors.js";
import type { AuthService } from "./auth.service.js";

export function authenticate(auth: AuthService): RequestHandler {
  return async (req, _res, next) => {
    const header = req.headers.authorization;
    if (!header) return next();
    const [scheme, value] = header.split(/\s+/, 2);
    if (!value) throw unauthorized("malformed Authorization header");
    if (/^bearer$/i.test(scheme!)) {
      const actor = await auth.actorFromBearer(value);
      if (!actor) throw unauthorized("invalid, expired or revoked token");
      req.actor = actor;
      return next();
    }
    if (/^basic$/i.test(scheme!)) {
      const decoded = Buffer.from(value, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      // A NUL can be neither a user name nor a password here (and reached the database as a 500).
      if (colon < 1 || decoded.includes("\u0000")) throw unauthorized("malformed Basic credentials");
      const actor = await auth.actorFromBasic(decoded.slice(0, colon), decoded.slice(colon + 1));
      if (!actor) throw unauthorized("invalid username, password or token");
      req.actor = actor;
      return next();
    }
    throw unauthorized(`unsupported authorization scheme ${scheme}`);
  };
}
