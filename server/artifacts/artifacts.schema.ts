import { z } from "zod";

export const ARTIFACT_KINDS = ["binary", "image", "sql", "chart", "config", "other"] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];

// Coordinates become storage paths and bundle paths at customer sites: keep them to a
// portable character set, with no separators, no traversal and no control characters.
export const ComponentName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, "1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit");
export const Version = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9.+_~-]{0,99}$/, "1-100 letters, digits, '.', '+', '_', '~' or '-', starting with a letter or digit");
export const Filename = z
  .string()
  .max(255, "at most 255 characters")
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._+~@=-]*$/, "letters, digits and . _ + ~ @ = - only, not starting with '.' or '-'")
  .refine((name) => !name.includes(".."), "must not contain '..'");
export const Sha256 = z.string().regex(/^[a-f0-9]{64}$/, "64 lowercase hex characters");
export const ArtifactKind = z.enum(ARTIFACT_KINDS);

export const ArtifactParams = z.strictObject({ component: ComponentName, version: Version, filename: Filename });
export const BlobParams = z.strictObject({ sha256: Sha256 });

export const ArtifactListQuery = z.strictObject({
  component: ComponentName.optional(),
  version: Version.optional(),
  kind: ArtifactKind.optional(),
  q: z.string().max(100).optional(),
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

/** Upload headers (SPEC §4). Header names arrive lower-cased. */
export const UploadHeaders = z.object({
  "x-checksum-sha256": z
    .string()
    .transform((value) => value.trim().toLowerCase())
    .pipe(Sha256)
    .optional(),
  "x-checksum-deploy": z.enum(["true", "false"]).optional(),
  "x-artifact-kind": ArtifactKind.optional(),
  "x-sql-database": z.string().max(100).optional(),
  "x-sql-dialect": z.string().max(20).optional(),
  "x-sql-type": z.string().max(20).optional(),
  "x-sql-order": z.string().max(50).optional(),
});

/** The kind an upload gets when none is declared. */
export function defaultKind(filename: string): ArtifactKind {
  return filename.toLowerCase().endsWith(".sql") ? "sql" : "binary";
}
