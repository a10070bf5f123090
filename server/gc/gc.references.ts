/**
 * What keeps a blob alive, written once as SQL and used twice: to find candidates in
 * bulk, and to re-check one candidate under its row lock right before it is deleted.
 * A blob is referenced by an artifact (its content, or a part such as an image layer), by
 * the artifact set of a release, by a bundle that has not expired (its file or one of its
 * parts), or by a container image record (digests of its config, manifest and layers).
 */
import { Prisma } from "../generated/prisma/client.js";
import type { Db } from "../db/client.js";

type Queryable = Db | Prisma.TransactionClient;

function referencedPredicate(sha: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
    EXISTS (SELECT 1 FROM "Artifact" a WHERE a."sha256" = ${sha})
    OR EXISTS (SELECT 1 FROM "ArtifactBlob" ab WHERE ab."sha256" = ${sha})
    OR EXISTS (SELECT 1 FROM "ReleaseArtifact" ra WHERE ra."sha256" = ${sha})
    OR EXISTS (
      SELECT 1 FROM "Bundle" b
      WHERE b."status" <> 'expired' AND (b."sha256" = ${sha} OR b."parts"::text LIKE '%' || ${sha} || '%')
    )
    OR EXISTS (
      SELECT 1 FROM "ContainerImage" ci
      WHERE ci."configDigest" = 'sha256:' || ${sha} OR ci."manifestDigest" = 'sha256:' || ${sha}
         OR ci."layers"::text LIKE '%' || ${sha} || '%'
    )
  )`;
}

/** The digests among `sha256s` that something still references. */
export async function referencedAmong(db: Queryable, sha256s: string[]): Promise<Set<string>> {
  if (!sha256s.length) return new Set();
  const rows = await db.$queryRaw<Array<{ sha256: string }>>`
    SELECT s AS "sha256" FROM unnest(${sha256s}::text[]) AS s WHERE ${referencedPredicate(Prisma.raw("s"))}`;
  return new Set(rows.map((row) => row.sha256));
}

/**
 * For code that records a new reference to a blob it did not just create (a bundle that
 * deduplicated against an existing blob, say): call inside the transaction that writes
 * the reference. It share-locks the Blob rows, so a concurrent `ferry gc` either finishes
 * deleting first (and this throws, so the caller stores the content again) or waits for
 * the transaction to commit and then sees the reference.
 */
export async function pinBlobs(tx: Prisma.TransactionClient, sha256s: string[]): Promise<void> {
  if (!sha256s.length) return;
  const rows = await tx.$queryRaw<Array<{ sha256: string }>>`
    SELECT "sha256" FROM "Blob" WHERE "sha256" = ANY(${sha256s}::text[]) FOR SHARE`;
  const present = new Set(rows.map((row) => row.sha256));
  const missing = sha256s.filter((sha) => !present.has(sha));
  if (missing.length) throw new Error(`blobs no longer stored (garbage-collected): ${missing.join(", ")}`);
}
