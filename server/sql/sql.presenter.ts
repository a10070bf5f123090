/** The API shapes of SQL scripts and reviews (never a Prisma row). */
import type { SqlReview } from "../generated/prisma/client.js";
import type { ScriptDetail, ScriptWithArtifact } from "./sql.repo.js";
import type { Finding } from "./sql.types.js";

export function findingsOf(script: { findings: unknown }): Finding[] {
  return Array.isArray(script.findings) ? (script.findings as Finding[]) : [];
}

function artifactPath(script: ScriptWithArtifact): string {
  const { component, version, filename } = script.artifact;
  return `/api/v1/artifacts/${[component, version, filename].map(encodeURIComponent).join("/")}`;
}

export function presentScript(script: ScriptWithArtifact) {
  const findings = findingsOf(script);
  const count = (severity: Finding["severity"]) => findings.filter((f) => f.severity === severity).length;
  return {
    id: script.id,
    component: script.artifact.component,
    version: script.artifact.version,
    filename: script.artifact.filename,
    sha256: script.artifact.sha256,
    size: Number(script.artifact.size),
    database: script.database,
    dialect: script.dialect,
    type: script.type,
    orderVersion: script.orderVersion || null,
    orderKey: script.orderKey,
    description: script.description,
    status: script.status,
    approvedSha256: script.approvedSha256,
    /** False when an approval no longer matches the artifact's content. */
    approvalValid: script.status === "approved" && script.approvedSha256 === script.artifact.sha256,
    uploadedBy: script.uploadedBy,
    createdAt: script.createdAt,
    findings,
    findingCounts: { error: count("error"), warning: count("warning"), info: count("info") },
    contentUrl: artifactPath(script),
  };
}

export function presentReview(review: SqlReview) {
  return {
    id: review.id,
    reviewer: review.reviewer,
    decision: review.decision,
    comment: review.comment,
    sha256: review.sha256,
    createdAt: review.createdAt,
  };
}

export function presentVersion(script: ScriptWithArtifact, current: ScriptWithArtifact) {
  return {
    id: script.id,
    component: script.artifact.component,
    version: script.artifact.version,
    sha256: script.artifact.sha256,
    sameContent: script.artifact.sha256 === current.artifact.sha256,
    status: script.status,
    createdAt: script.createdAt,
  };
}

export function presentScriptDetail(
  script: ScriptDetail,
  content: { text: string | null; truncated: boolean },
  previousVersions: ScriptWithArtifact[],
) {
  return {
    ...presentScript(script),
    content: content.text,
    contentTruncated: content.truncated,
    reviews: script.reviews.map(presentReview),
    previousVersions: previousVersions.map((v) => presentVersion(v, script)),
  };
}
