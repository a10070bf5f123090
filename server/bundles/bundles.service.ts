/**
 * Bundle requests: plan (which validates the request and enforces the SQL gate), reuse an
 * identical request's bundle, or record a new row and queue its build.
 */
import type { Actor } from "../auth/actor.js";
import { actorName } from "../auth/actor.js";
import { Prisma, type Bundle } from "../generated/prisma/client.js";
import { conflict, notFound } from "../errors.js";
import { canonicalJson } from "../util/canonical-json.js";
import { decodeTimeIdCursor, encodeTimeIdCursor, olderThan, pageOf } from "../util/keyset-cursor.js";
import type { BuilderContext } from "./bundles.builder.js";
import { sha256Hex } from "./bundles.layout.js";
import { planBundle, type BundlePlan } from "./bundles.plan.js";
import type { AppContext } from "../context.js";
import { BUNDLE_BUILD_JOB, bundleJobId, type BundleBuildPayload } from "./bundles.job.js";
import type { CreateBundleBody } from "./bundles.schema.js";

/** Statuses in which a bundle for the same request is reused instead of built again. */
const REUSABLE = ["queued", "building", "ready"];

export function bundleRequestKey(plan: BundlePlan, format: string, maxPartSize: number | undefined): string {
  return sha256Hex(
    canonicalJson({
      site: plan.site.id,
      release: plan.release.digest,
      base: plan.base?.digest ?? null,
      components: plan.requestedComponents,
      format,
      maxPartSize: maxPartSize ?? null,
    }),
  );
}

export class BundlesService {
  constructor(private readonly ctx: BuilderContext & Pick<AppContext, "jobs">) {}

  /** Plans the request (409 release_not_sealed / unapproved_sql, 400s), then reuses or queues a bundle. */
  async request(body: CreateBundleBody, actor: Actor): Promise<{ bundle: Bundle; plan: BundlePlan; reused: boolean }> {
    const plan = await planBundle(this.ctx, { siteId: body.site, product: body.release.product, version: body.release.version, from: body.from, components: body.components });
    const requestKey = bundleRequestKey(plan, body.format, body.maxPartSize);
    const existing = await this.ctx.db.bundle.findUnique({ where: { requestKey } });
    if (existing && REUSABLE.includes(existing.status)) return { bundle: existing, plan, reused: true };

    const fields = {
      siteId: plan.site.id,
      product: plan.release.product,
      version: plan.release.version,
      // `installed` is resolved now, so a retry builds against the same base even if the site changes meanwhile.
      fromVersion: plan.base?.version ?? null,
      components: plan.requestedComponents ?? Prisma.JsonNull,
      format: body.format,
      maxPartSize: body.maxPartSize === undefined ? null : BigInt(body.maxPartSize),
      createdBy: actorName(actor),
    };
    let bundle: Bundle;
    if (existing) {
      // A failed or expired bundle for this request is built again under the same row.
      const { count } = await this.ctx.db.bundle.updateMany({
        where: { id: existing.id, status: { in: ["failed", "expired"] } },
        data: { ...fields, status: "queued", error: null, sha256: null, size: null, manifest: Prisma.DbNull, parts: Prisma.DbNull, bytesDone: 0, filesDone: 0, readyAt: null, expiredAt: null, createdAt: new Date() },
      });
      bundle = (await this.ctx.db.bundle.findUnique({ where: { id: existing.id } }))!;
      if (count === 0) return { bundle, plan, reused: true };
    } else {
      try {
        // Its own transaction (a savepoint inside a request's): after a unique violation the
        // lookup below must still be able to run.
        bundle = await this.ctx.db.$transaction((tx) => tx.bundle.create({ data: { ...fields, requestKey } }));
      } catch (error) {
        // A concurrent identical request created it first.
        const raced = await this.ctx.db.bundle.findUnique({ where: { requestKey } });
        if (!raced) throw error;
        return { bundle: raced, plan, reused: true };
      }
    }
    await this.ctx.jobs.enqueue<BundleBuildPayload>(BUNDLE_BUILD_JOB, { bundleId: bundle.id }, { jobId: bundleJobId(bundle) });
    return { bundle, plan, reused: false };
  }

  async get(id: string): Promise<Bundle> {
    const bundle = await this.ctx.db.bundle.findUnique({ where: { id } });
    if (!bundle) throw notFound("bundle", id);
    return bundle;
  }

  /** Newest first; `cursor` is the `nextCursor` of the previous page (keyset on createdAt, id). */
  async list(filter: { site?: string; status?: string; cursor?: string; limit: number }): Promise<{ items: Bundle[]; nextCursor: string | null }> {
    const after = filter.cursor ? decodeTimeIdCursor(filter.cursor) : undefined;
    const rows = await this.ctx.db.bundle.findMany({
      where: { ...(filter.site ? { siteId: filter.site } : {}), ...(filter.status ? { status: filter.status } : {}), ...(after ? olderThan(after) : {}) },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: filter.limit + 1,
    });
    return pageOf(rows, filter.limit, encodeTimeIdCursor);
  }

  /** A ready bundle (409 bundle_not_ready otherwise), recording the download. */
  async forDownload(id: string): Promise<Bundle> {
    const bundle = await this.get(id);
    if (bundle.status !== "ready" || !bundle.sha256 || bundle.size === null) {
      throw conflict("bundle_not_ready", `bundle ${id} is ${bundle.status}`, { status: bundle.status });
    }
    await this.ctx.db.bundle.update({ where: { id }, data: { lastDownloadedAt: new Date() } });
    return bundle;
  }
}

export function createBundlesService(ctx: BuilderContext & Pick<AppContext, "jobs">): BundlesService {
  return new BundlesService(ctx);
}
