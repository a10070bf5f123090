/** Who is making a request, as resolved by server/auth/authenticate.ts. */
export const ROLES = ["admin", "ci", "dba", "delivery", "operator", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export type Actor =
  | { kind: "user"; userId: string; username: string; roles: Role[]; via: "jwt" | "password" }
  | { kind: "token"; userId: string; username: string; roles: Role[]; tokenId: string }
  | { kind: "site"; siteId: string; username: string; roles: [] };

/** The name written into audit events and `uploadedBy` columns. */
export function actorName(actor: Actor): string {
  return actor.kind === "site" ? `site:${actor.siteId}` : actor.username;
}

export function hasAnyRole(actor: Actor, roles: readonly Role[]): boolean {
  return actor.roles.some((role) => roles.includes(role));
}
