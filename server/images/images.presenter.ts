import type { ImageRow } from "./images.repo.js";
import type { StoredLayers } from "./images.schema.js";

function summary(image: ImageRow) {
  const layers = image.layers as unknown as StoredLayers;
  return {
    artifactId: image.artifactId,
    name: image.name,
    tag: image.tag,
    reference: `${image.name}:${image.tag}`,
    manifestDigest: image.manifestDigest,
    configDigest: image.configDigest,
    layerCount: layers.length,
    /** Sum of the layer sizes as stored (compressed where the layers are). */
    layersSize: layers.reduce((sum, layer) => sum + layer.size, 0),
    artifact: {
      component: image.artifact.component,
      version: image.artifact.version,
      filename: image.artifact.filename,
      sha256: image.artifact.sha256,
      size: Number(image.artifact.size),
      path: `/api/v1/artifacts/${image.artifact.component}/${image.artifact.version}/${image.artifact.filename}`,
    },
    createdAt: image.createdAt,
  };
}

export const presentImageSummary = summary;

export function presentImage(image: ImageRow) {
  const layers = image.layers as unknown as StoredLayers;
  return { ...summary(image), layers: layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType })) };
}
