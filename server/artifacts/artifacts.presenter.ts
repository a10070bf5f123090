import type { Artifact, SqlScript } from "../generated/prisma/client.js";

export function presentArtifact(artifact: Artifact & { sqlScript?: SqlScript | null }) {
  return {
    id: artifact.id,
    component: artifact.component,
    version: artifact.version,
    filename: artifact.filename,
    kind: artifact.kind,
    sha256: artifact.sha256,
    size: Number(artifact.size),
    contentType: artifact.contentType,
    uploadedBy: artifact.uploadedBy,
    createdAt: artifact.createdAt,
    path: `/api/v1/artifacts/${artifact.component}/${artifact.version}/${artifact.filename}`,
    ...(artifact.sqlScript
      ? {
          sql: {
            id: artifact.sqlScript.id,
            database: artifact.sqlScript.database,
            dialect: artifact.sqlScript.dialect,
            type: artifact.sqlScript.type,
            orderVersion: artifact.sqlScript.orderVersion,
            status: artifact.sqlScript.status,
          },
        }
      : {}),
  };
}
