import type { Actor } from "../auth/actor.js";

declare global {
  namespace Express {
    interface Request {
      /** Set by server/auth/authenticate.ts when credentials were given and valid. */
      actor?: Actor;
    }
  }
}
export {};
