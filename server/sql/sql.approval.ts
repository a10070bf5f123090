/**
 * The gate other domains call before a bundle or deployment carries SQL: every script of
 * the component versions involved must be approved, and approved for the content it has
 * now (its `approvedSha256` equals its artifact's sha256).
 */
import type { Prisma, PrismaClient } from "../generated/prisma/client.js";
import { conflict } from "../errors.js";
import { SqlRepo, type ScriptWithArtifact } from "./sql.repo.js";

export interface ComponentVersion {
  name: string;
  version: string;
}

export interface UnapprovedScript {
  id: string;
  component: string;
  version: string;
  filename: string;
  database: string;
  /** pending | rejected | modified (approved, but for other content than the artifact holds now). */
  status: string;
}

export function isApproved(script: ScriptWithArtifact): boolean {
  return script.status === "approved" && script.approvedSha256 === script.artifact.sha256;
}

/** Every SQL script of these component versions, in execution order per database. */
export function listScriptsForComponents(db: PrismaClient | Prisma.TransactionClient, componentVersions: ReadonlyArray<ComponentVersion>): Promise<ScriptWithArtifact[]> {
  return new SqlRepo(db as PrismaClient).forComponents(componentVersions, db);
}

export async function findUnapprovedScripts(db: PrismaClient | Prisma.TransactionClient, componentVersions: ReadonlyArray<ComponentVersion>): Promise<UnapprovedScript[]> {
  const scripts = await listScriptsForComponents(db, componentVersions);
  return scripts
    .filter((script) => !isApproved(script))
    .map((script) => ({
      id: script.id,
      component: script.artifact.component,
      version: script.artifact.version,
      filename: script.artifact.filename,
      database: script.database,
      status: script.status === "approved" ? "modified" : script.status,
    }));
}

/** Throws 409 `unapproved_sql` listing each script that is not approved. */
export async function assertScriptsApproved(db: PrismaClient | Prisma.TransactionClient, componentVersions: ReadonlyArray<ComponentVersion>): Promise<void> {
  const scripts = await findUnapprovedScripts(db, componentVersions);
  if (scripts.length === 0) return;
  const names = scripts.map((s) => `${s.component}/${s.version}/${s.filename} (${s.status})`);
  throw conflict("unapproved_sql", `SQL scripts need DBA approval first: ${names.join(", ")}`, { scripts });
}
