/**
 * Users, sessions and API tokens. Tokens carry a subset of their owner's roles and lose
 * any role the owner loses; revocation takes effect on the next request.
 */
import { randomBytes } from "node:crypto";
import type { Db } from "../db/client.js";
import { badRequest, conflict, forbidden, notFound, unauthorized } from "../errors.js";
import type { Actor, Role } from "./actor.js";
import { ROLES } from "./actor.js";
import { signSession, verifySession } from "./jwt.js";
import { API_TOKEN_PREFIX, SITE_TOKEN_PREFIX, hashOpaqueToken, newOpaqueToken } from "./opaque-token.js";
import { DUMMY_PASSWORD_HASH, hashPassword, verifyPassword } from "./passwords.js";
import { MicroBatch } from "./micro-batch.js";

const LAST_USED_RESOLUTION_MS = 60_000;

export interface AuthSettings {
  jwtSecret: string;
  jwtTtlHours: number;
}

/** Whether an API token still authenticates: not revoked, not expired, its owner not disabled. */
function tokenIsLive(token: { revokedAt: Date | null; expiresAt: Date | null; user: { disabled: boolean } }): boolean {
  return !token.revokedAt && !token.user.disabled && (!token.expiresAt || token.expiresAt.getTime() > Date.now());
}

function asRoles(values: string[]): Role[] {
  return values.filter((value): value is Role => (ROLES as readonly string[]).includes(value));
}

interface SiteTokenOwner {
  id: string;
  name: string;
}

export class AuthService {
  /**
   * Site tokens are looked up in batches: agents call in all the time (heartbeats), and one
   * indexed query for many tokens costs about what one query for one token does. Nothing is
   * cached, so a rotated token fails on every server from the next request on.
   */
  private readonly siteTokens = new MicroBatch<string, SiteTokenOwner | null>((hashes) => this.sitesByTokenHash(hashes), {
    maxSize: 500,
    maxConcurrent: 2,
  });

  constructor(
    private readonly db: Db,
    private readonly settings: AuthSettings,
  ) {}

  async createUser(input: { username: string; password: string; roles: Role[] }) {
    const existing = await this.db.user.findUnique({ where: { username: input.username } });
    if (existing) throw conflict("already_exists", `user ${input.username} already exists`);
    const passwordHash = await hashPassword(input.password);
    try {
      return await this.db.user.create({ data: { username: input.username, passwordHash, roles: input.roles } });
    } catch (error) {
      // Created by someone else while the password was hashing (two servers starting on a
      // fresh database both create the first admin): the same answer as the check above.
      if ((error as { code?: string }).code === "P2002") throw conflict("already_exists", `user ${input.username} already exists`);
      throw error;
    }
  }

  /**
   * Disables or enables a user, or sets their roles. A disabled user's sessions, API tokens
   * and download links stop working at once (each is checked on use). The last enabled
   * admin can be neither disabled nor stripped of the role: 409 last_admin. The enabled
   * admins' rows are locked first (in one order, so two such requests cannot deadlock), so
   * two admins demoting each other at once cannot both succeed: the second sees the
   * first's change once it commits.
   */
  async updateUser(id: string, change: { disabled?: boolean; roles?: Role[] }) {
    const user = await this.db.user.findUnique({ where: { id } });
    if (!user) throw notFound("user", id);
    const isAdmin = (disabled: boolean, roles: readonly string[]) => !disabled && roles.includes("admin");
    if (isAdmin(user.disabled, user.roles) && !isAdmin(change.disabled ?? user.disabled, change.roles ?? user.roles)) {
      const admins = await this.db.$queryRaw<Array<{ id: string }>>`SELECT id FROM "User" WHERE disabled = false AND 'admin' = ANY(roles) ORDER BY id FOR UPDATE`;
      if (!admins.some((admin) => admin.id !== id)) throw conflict("last_admin", `${user.username} is the last enabled admin; make another user admin first`);
    }
    return this.db.user.update({ where: { id }, data: change });
  }

  /** Creates the first admin when there are no users. Returns the generated password, if one was generated. */
  async ensureFirstAdmin(password: string | undefined): Promise<{ created: boolean; generatedPassword?: string }> {
    if ((await this.db.user.count()) > 0) return { created: false };
    const generated = password ? undefined : randomBytes(18).toString("base64url");
    try {
      await this.createUser({ username: "admin", password: password ?? generated!, roles: ["admin"] });
    } catch (error) {
      // Another process created it first.
      if ((error as { code?: string }).code === "already_exists") return { created: false };
      throw error;
    }
    return { created: true, generatedPassword: generated };
  }

  async login(username: string, password: string) {
    const user = await this.db.user.findUnique({ where: { username } });
    const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok || user.disabled) throw unauthorized("invalid username or password");
    const session = signSession(this.settings.jwtSecret, { sub: user.id, username: user.username }, this.settings.jwtTtlHours);
    return { ...session, user };
  }

  async createToken(owner: Actor, input: { name: string; roles: Role[]; expiresInDays?: number }) {
    if (owner.kind === "site") throw forbidden("forbidden", "site tokens cannot create tokens");
    const notHeld = input.roles.filter((role) => !owner.roles.includes(role));
    if (notHeld.length) {
      throw forbidden("role_not_held", `a token cannot carry roles its owner does not hold: ${notHeld.join(", ")}`, { roles: notHeld });
    }
    const secret = newOpaqueToken(API_TOKEN_PREFIX);
    const row = await this.db.apiToken.create({
      data: {
        name: input.name,
        userId: owner.userId,
        tokenHash: hashOpaqueToken(secret),
        roles: input.roles,
        expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
      },
    });
    return { row, secret };
  }

  /** Owners revoke their own tokens; admins revoke anyone's. */
  async revokeToken(actor: Actor, id: string) {
    const token = await this.db.apiToken.findUnique({ where: { id } });
    const mayRevoke = token && actor.kind !== "site" && (token.userId === actor.userId || actor.roles.includes("admin"));
    if (!token || !mayRevoke) throw notFound("token", id);
    if (!token.revokedAt) await this.db.apiToken.update({ where: { id }, data: { revokedAt: new Date() } });
    return token;
  }

  /**
   * Whether a user, and the API token when one is named, may still act: the user exists
   * and is not disabled, the token is theirs and neither revoked nor expired. For what was
   * granted earlier and used later (download links).
   */
  async mayStillAct(who: { userId: string; tokenId?: string }): Promise<boolean> {
    if (who.tokenId === undefined) {
      const user = await this.db.user.findUnique({ where: { id: who.userId }, select: { disabled: true } });
      return Boolean(user && !user.disabled);
    }
    const token = await this.db.apiToken.findUnique({ where: { id: who.tokenId }, include: { user: { select: { disabled: true } } } });
    return Boolean(token && token.userId === who.userId && tokenIsLive(token));
  }

  /** Resolves a bearer credential (JWT, API token or site token) to an actor, or null. */
  async actorFromBearer(credential: string): Promise<Actor | null> {
    if (credential.startsWith(SITE_TOKEN_PREFIX)) return this.actorFromSiteToken(credential);
    if (credential.startsWith(API_TOKEN_PREFIX)) return this.actorFromApiToken(credential);
    const claims = verifySession(this.settings.jwtSecret, credential);
    if (!claims) return null;
    const user = await this.db.user.findUnique({ where: { id: claims.sub } });
    if (!user || user.disabled) return null;
    return { kind: "user", userId: user.id, username: user.username, roles: asRoles(user.roles), via: "jwt" };
  }

  /** HTTP Basic: the password may be the user's password or one of their API tokens. */
  async actorFromBasic(username: string, secret: string): Promise<Actor | null> {
    if (secret.startsWith(API_TOKEN_PREFIX)) {
      const actor = await this.actorFromApiToken(secret);
      return actor && actor.username === username ? actor : null;
    }
    const user = await this.db.user.findUnique({ where: { username } });
    const ok = await verifyPassword(secret, user?.passwordHash ?? DUMMY_PASSWORD_HASH);
    if (!user || !ok || user.disabled) return null;
    return { kind: "user", userId: user.id, username: user.username, roles: asRoles(user.roles), via: "password" };
  }

  private async actorFromApiToken(secret: string): Promise<Actor | null> {
    const token = await this.db.apiToken.findUnique({ where: { tokenHash: hashOpaqueToken(secret) }, include: { user: true } });
    if (!token || !tokenIsLive(token)) return null;
    if (!token.lastUsedAt || Date.now() - token.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.db.apiToken.update({ where: { id: token.id }, data: { lastUsedAt: new Date() } });
    }
    const ownerRoles = asRoles(token.user.roles);
    return {
      kind: "token",
      userId: token.userId,
      username: token.user.username,
      tokenId: token.id,
      roles: asRoles(token.roles).filter((role) => ownerRoles.includes(role)),
    };
  }

  private async actorFromSiteToken(secret: string): Promise<Actor | null> {
    const site = await this.siteTokens.get(hashOpaqueToken(secret));
    return site ? { kind: "site", siteId: site.id, username: `site:${site.name}`, roles: [] } : null;
  }

  private async sitesByTokenHash(hashes: string[]): Promise<Array<SiteTokenOwner | null>> {
    const rows = await this.db.site.findMany({
      where: { agentTokenHash: { in: [...new Set(hashes)] } },
      select: { id: true, name: true, agentTokenHash: true },
    });
    const byHash = new Map(rows.map((row) => [row.agentTokenHash, { id: row.id, name: row.name }]));
    return hashes.map((hash) => byHash.get(hash) ?? null);
  }
}

export function assertRolesKnown(roles: string[]): Role[] {
  const unknown = roles.filter((role) => !(ROLES as readonly string[]).includes(role));
  if (unknown.length) throw badRequest("unknown_role", `unknown roles: ${unknown.join(", ")}`);
  return roles as Role[];
}
