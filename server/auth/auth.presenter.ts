import type { ApiToken, User } from "../generated/prisma/client.js";

export function presentUser(user: User) {
  return { id: user.id, username: user.username, roles: user.roles, disabled: user.disabled, createdAt: user.createdAt };
}

export function presentToken(token: ApiToken & { user?: { username: string } }) {
  return {
    id: token.id,
    name: token.name,
    owner: token.user?.username,
    roles: token.roles,
    createdAt: token.createdAt,
    expiresAt: token.expiresAt,
    revokedAt: token.revokedAt,
    lastUsedAt: token.lastUsedAt,
  };
}
