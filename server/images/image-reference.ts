/**
 * Which name and tag an uploaded image gets. The rule, in order:
 *  1. the archive's own reference: `RepoTags[0]` of a `docker save` manifest.json; in an
 *     OCI layout the `io.containerd.image.name` annotation (docker 25+ and containerd write
 *     it), else `org.opencontainers.image.ref.name` when it holds a full `name:tag`;
 *  2. otherwise the artifact's file name `<name>_<tag>.tar` (also `.tar.gz`, `.tgz`), split
 *     at the last `_`: `payments-api_1.4.2.tar` is `payments-api:1.4.2`;
 *  3. otherwise the upload fails with 400 `image_name_required`. A tag-only
 *     `org.opencontainers.image.ref.name` (what `skopeo copy … oci:dir:latest` writes) does
 *     not name the image, so it needs rule 2.
 * A digest suffix (`name:tag@sha256:…`, `name@sha256:…`) is ignored: Ferry records the
 * digest it computed itself.
 */
import { badRequest } from "../errors.js";

export interface ImageReference {
  name: string;
  tag: string;
}

// The distribution reference grammar: optional registry host[:port], then lowercase path
// components separated by '/', each alphanumerics joined by '.', '_', '__' or dashes.
const PATH_COMPONENT = "[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
const HOST = "(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)";
const IMAGE_NAME = new RegExp(`^${HOST}?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export function isValidImageName(name: string): boolean {
  return name.length <= 255 && IMAGE_NAME.test(name);
}

export function isValidImageTag(tag: string): boolean {
  return IMAGE_TAG.test(tag);
}

/** Splits `name:tag` (a colon after the last '/'); null when there is no tag or either part is invalid. */
export function parseImageReference(reference: string): ImageReference | null {
  const withoutDigest = reference.split("@")[0] ?? "";
  const colon = withoutDigest.lastIndexOf(":");
  if (colon <= withoutDigest.lastIndexOf("/")) return null;
  const name = withoutDigest.slice(0, colon);
  const tag = withoutDigest.slice(colon + 1);
  return isValidImageName(name) && isValidImageTag(tag) ? { name, tag } : null;
}

/** Rule 2: `<name>_<tag>.tar[.gz]`. */
export function referenceFromFilename(filename: string): ImageReference | null {
  const stem = filename.replace(/\.(tar|tar\.gz|tgz)$/i, "");
  if (stem === filename) return null;
  const underscore = stem.lastIndexOf("_");
  if (underscore <= 0) return null;
  const name = stem.slice(0, underscore);
  const tag = stem.slice(underscore + 1);
  return isValidImageName(name) && isValidImageTag(tag) ? { name, tag } : null;
}

/** Applies the rule above to what the archive said (`candidates`, best first) and the file name. */
export function chooseReference(candidates: Array<string | undefined>, filename: string): ImageReference {
  for (const candidate of candidates) {
    const parsed = candidate ? parseImageReference(candidate) : null;
    if (parsed) return parsed;
  }
  const fromFilename = referenceFromFilename(filename);
  if (fromFilename) return fromFilename;
  const seen = candidates.filter((c): c is string => Boolean(c));
  throw badRequest(
    "image_name_required",
    `the image archive names no image as name:tag${seen.length ? ` (found only ${seen.map((c) => JSON.stringify(c)).join(", ")})` : ""}; ` +
      `tag it before saving (docker save name:tag) or name the file <name>_<tag>.tar, e.g. payments-api_1.4.2.tar`,
    { found: seen },
  );
}
