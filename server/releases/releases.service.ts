/**
 * Releases: a draft names component versions whose artifacts exist; sealing freezes the
 * exact artifact set and its digest. Sealed releases never change.
 */
import { createHash } from "node:crypto";
import type { Actor } from "../auth/actor.js";
import { actorName } from "../auth/actor.js";
import type { CatalogService } from "../catalog/catalog.service.js";
import type { Db } from "../db/client.js";
import { badRequest, conflict, notFound } from "../errors.js";
import { canonicalJson } from "../util/canonical-json.js";
import type { EventSink } from "../webhooks/events.js";
import { compareCodeUnits } from "../util/compare.js";
import { ReleasesRepo, type ArtifactRow, type ComponentRef } from "./releases.repo.js";
import type { CreateReleaseBody, UpdateReleaseBody } from "./releases.schema.js";

export type ReleaseWithComponents = NonNullable<Awaited<ReturnType<ReleasesRepo["find"]>>>;

export interface ReleaseView {
  release: ReleaseWithComponents;
  /** Components in dependency order, each with its artifacts (the sealed set once sealed). */
  components: Array<ComponentRef & { inCatalog: boolean; artifacts: ArtifactRow[] }>;
}

/** sha256 over the canonical JSON of the sorted (component, version, filename, sha256) set. */
export function releaseDigest(artifacts: Array<Pick<ArtifactRow, "component" | "version" | "filename" | "sha256">>): string {
  const set = artifacts
    .map((a) => ({ component: a.component, version: a.version, filename: a.filename, sha256: a.sha256 }))
    .sort((a, b) => compareCodeUnits(a.component, b.component) || compareCodeUnits(a.version, b.version) || compareCodeUnits(a.filename, b.filename));
  return createHash("sha256").update(canonicalJson(set)).digest("hex");
}

export class ReleasesService {
  readonly repo: ReleasesRepo;

  constructor(
    db: Db,
    private readonly catalog: CatalogService,
    private readonly events: EventSink,
  ) {
    this.repo = new ReleasesRepo(db);
  }

  async create(body: CreateReleaseBody, actor: Actor): Promise<ReleaseWithComponents> {
    await this.checkComponents(body.components);
    if (await this.repo.find(body.product, body.version)) {
      throw conflict("release_exists", `release ${body.product} ${body.version} already exists`);
    }
    return this.repo.create(
      { product: body.product, version: body.version, notes: body.notes, required: body.required, createdBy: actorName(actor) },
      this.inDependencyOrder(body.components),
    );
  }

  async update(product: string, version: string, change: UpdateReleaseBody): Promise<ReleaseWithComponents> {
    const release = await this.require(product, version);
    if (release.status !== "draft") throw this.immutable(release);
    if (change.components) await this.checkComponents(change.components);
    const applied = await this.repo.updateDraft(release.id, { ...change, components: change.components && this.inDependencyOrder(change.components) });
    if (!applied) throw this.immutable(release);
    return this.require(product, version);
  }

  async seal(product: string, version: string, actor: Actor): Promise<ReleaseWithComponents> {
    const release = await this.require(product, version);
    if (release.status !== "draft") throw this.immutable(release);
    // Artifacts or the catalog may have changed since the draft was written.
    await this.checkComponents(release.components);
    const artifacts = await this.repo.artifactsAt(release.components);
    const digest = releaseDigest(artifacts);
    if (!(await this.repo.seal(release.id, { digest, sealedBy: actorName(actor), artifacts }))) throw this.immutable(release);
    const sealed = await this.require(product, version);
    await this.events.emit("release.sealed", {
      product,
      version,
      digest,
      required: sealed.required,
      sealedAt: sealed.sealedAt?.toISOString(),
      sealedBy: sealed.sealedBy,
      components: sealed.components.map((c) => ({ name: c.name, version: c.version })),
    });
    return sealed;
  }

  async require(product: string, version: string): Promise<ReleaseWithComponents> {
    const release = await this.repo.find(product, version);
    if (!release) throw notFound("release", `${product} ${version}`);
    return release;
  }

  /** A release with its components in dependency order and their artifacts. */
  async view(product: string, version: string): Promise<ReleaseView> {
    return this.viewOf(await this.require(product, version));
  }

  async viewOf(release: ReleaseWithComponents): Promise<ReleaseView> {
    const artifacts =
      release.status === "sealed" ? (await this.repo.sealedArtifacts(release.id)).map((row) => row.artifact) : await this.repo.artifactsAt(release.components);
    const byName = new Map(release.components.map((c) => [c.name, c]));
    return {
      release,
      components: this.catalog.topologicalOrder(byName.keys()).map((name) => {
        const { version } = byName.get(name)!;
        return {
          name,
          version,
          inCatalog: Boolean(this.catalog.get(name)),
          artifacts: artifacts.filter((a) => a.component === name && a.version === version),
        };
      }),
    };
  }

  async list(query: { product?: string; status?: string; cursor?: string; limit: number }) {
    const rows = await this.repo.list({ product: query.product, status: query.status, after: query.cursor ? decodeCursor(query.cursor) : undefined, limit: query.limit });
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return { items, nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null };
  }

  /** 400 `unknown_components` or `missing_artifacts`, each listing every offending component. */
  private async checkComponents(components: ComponentRef[]): Promise<void> {
    const unknown = components.filter((c) => !this.catalog.get(c.name)).map((c) => ({ name: c.name, version: c.version }));
    if (unknown.length) {
      throw badRequest("unknown_components", `not in the catalog: ${unknown.map((c) => c.name).join(", ")}`, { components: unknown });
    }
    const present = new Set((await this.repo.artifactsAt(components)).map((a) => `${a.component}\u0000${a.version}`));
    const missing = components.filter((c) => !present.has(`${c.name}\u0000${c.version}`)).map((c) => ({ name: c.name, version: c.version }));
    if (missing.length) {
      throw badRequest("missing_artifacts", `no artifacts uploaded for: ${missing.map((c) => `${c.name} ${c.version}`).join(", ")}`, { components: missing });
    }
  }

  private inDependencyOrder(components: ComponentRef[]): ComponentRef[] {
    const byName = new Map(components.map((c) => [c.name, c]));
    return this.catalog.topologicalOrder(byName.keys()).map((name) => ({ name, version: byName.get(name)!.version }));
  }

  private immutable(release: { product: string; version: string }) {
    return conflict("immutable", `release ${release.product} ${release.version} is sealed and cannot change`);
  }
}

function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString("base64url");
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
    const createdAt = new Date(at);
    if (typeof id !== "string" || Number.isNaN(createdAt.getTime())) throw new Error("bad cursor");
    return { createdAt, id };
  } catch {
    throw badRequest("invalid_cursor", "cursor is not one this server returned");
  }
}
