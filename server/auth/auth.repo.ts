/** Paged lists of users and API tokens (keyset: users by name, tokens newest first). */
import type { Db } from "../db/client.js";
import { decodeNameCursor, decodeTimeIdCursor, encodeNameCursor, encodeTimeIdCursor, olderThan, pageOf } from "../util/keyset-cursor.js";
import type { Actor } from "./actor.js";

export class AuthRepo {
  constructor(private readonly db: Db) {}

  async listUsers(page: { cursor?: string; limit: number }) {
    const after = page.cursor ? decodeNameCursor(page.cursor) : undefined;
    const rows = await this.db.user.findMany({
      where: after === undefined ? {} : { username: { gt: after } },
      orderBy: { username: "asc" },
      take: page.limit + 1,
    });
    return pageOf(rows, page.limit, (last) => encodeNameCursor(last.username));
  }

  /** The actor's own tokens, or everyone's when `all`; site agents have none. */
  async listTokens(actor: Actor, page: { all: boolean; cursor?: string; limit: number }) {
    const after = page.cursor ? decodeTimeIdCursor(page.cursor) : undefined;
    if (actor.kind === "site") return { items: [], nextCursor: null };
    const rows = await this.db.apiToken.findMany({
      where: { ...(page.all ? {} : { userId: actor.userId }), ...(after ? olderThan(after) : {}) },
      include: { user: { select: { username: true } } },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: page.limit + 1,
    });
    return pageOf(rows, page.limit, encodeTimeIdCursor);
  }
}
