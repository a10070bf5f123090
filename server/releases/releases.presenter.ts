import type { ReleaseView, ReleaseWithComponents } from "./releases.service.js";

export function presentReleaseSummary(release: ReleaseWithComponents) {
  return {
    product: release.product,
    version: release.version,
    status: release.status,
    required: release.required,
    notes: release.notes,
    digest: release.digest,
    sealedAt: release.sealedAt,
    sealedBy: release.sealedBy,
    createdBy: release.createdBy,
    createdAt: release.createdAt,
    updatedAt: release.updatedAt,
    components: release.components.map((c) => ({ name: c.name, version: c.version })),
  };
}

/** The release with its components in dependency order, each with its artifacts. */
export function presentRelease(view: ReleaseView) {
  return {
    ...presentReleaseSummary(view.release),
    components: view.components.map((c, order) => ({
      name: c.name,
      version: c.version,
      order,
      inCatalog: c.inCatalog,
      artifacts: c.artifacts.map((a) => ({ filename: a.filename, kind: a.kind, sha256: a.sha256, size: Number(a.size) })),
    })),
  };
}

export function presentReleaseRef(release: ReleaseWithComponents) {
  return { version: release.version, status: release.status, digest: release.digest, required: release.required };
}
