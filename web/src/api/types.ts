/** Shapes the API returns (server presenters), as the console uses them. */
export const ROLES = ["admin", "ci", "dba", "delivery", "operator", "viewer"] as const;
export type Role = (typeof ROLES)[number];

export const SQL_DIALECTS = ["postgresql", "mysql", "oracle", "sqlserver"] as const;
export const SQL_TYPES = ["init", "upgrade", "undo", "repeatable", "backup", "restore"] as const;

export const ARTIFACT_KINDS = ["binary", "image", "sql", "chart", "config", "other"] as const;

export interface Me {
  username: string;
  kind: "user" | "token" | "site";
  roles: Role[];
}

export interface LoginResponse {
  token: string;
  expiresAt: string;
  user: User;
}

export interface User {
  id: string;
  username: string;
  roles: Role[];
  disabled: boolean;
  createdAt: string;
}

export interface ApiToken {
  id: string;
  name: string;
  owner?: string;
  roles: Role[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface CreatedToken {
  id: string;
  token: string;
  name: string;
  roles: Role[];
  expiresAt: string | null;
}

export interface Artifact {
  id: string;
  component: string;
  version: string;
  filename: string;
  kind: string;
  sha256: string;
  size: number;
  contentType: string | null;
  uploadedBy: string;
  createdAt: string;
  path: string;
  sql?: {
    id: string;
    database: string;
    dialect: string;
    type: string;
    orderVersion: string;
    status: string;
  };
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface ItemList<T> {
  items: T[];
}
