import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { diffReleases } from "./releases.diff.js";
import { presentRelease, presentReleaseRef, presentReleaseSummary } from "./releases.presenter.js";
import { CreateReleaseBody, DiffQuery, ListReleasesQuery, ReleaseParams, UpdateReleaseBody } from "./releases.schema.js";

const WRITERS = ["ci", "delivery", "admin"] as const;

export function releaseRoutes(routes: RouteTable, ctx: Pick<AppContext, "releases" | "catalog">): Router {
  const router = Router();
  const { releases, catalog } = ctx;

  routes.add(router, "", {
    method: "post",
    path: "/releases",
    tag: "releases",
    summary: "Create a draft release from component versions whose artifacts exist",
    access: WRITERS,
    body: CreateReleaseBody,
    audit: { action: "release.create", targetType: "release" },
    responses: { 400: "unknown_components or missing_artifacts (details.components lists each)", 409: "release_exists" },
    handler: async ({ body, actor }) => {
      const release = await releases.create(body, actor);
      return {
        status: 201,
        body: presentRelease(await releases.viewOf(release)),
        audit: { target: `${release.product}/${release.version}`, details: { components: body.components, required: body.required } },
      };
    },
  });

  routes.add(router, "", {
    method: "patch",
    path: "/releases/:product/:version",
    tag: "releases",
    summary: "Change a draft release's components, notes or required flag (409 immutable once sealed)",
    access: WRITERS,
    params: ReleaseParams,
    body: UpdateReleaseBody,
    audit: { action: "release.update", targetType: "release" },
    handler: async ({ params, body }) => {
      const release = await releases.update(params.product, params.version, body);
      return { body: presentRelease(await releases.viewOf(release)), audit: { details: { changed: Object.keys(body) } } };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/releases/:product/:version/seal",
    tag: "releases",
    summary: "Seal a draft: freeze its exact artifact set and record its digest",
    access: WRITERS,
    params: ReleaseParams,
    audit: { action: "release.seal", targetType: "release" },
    handler: async ({ params, actor }) => {
      const release = await releases.seal(params.product, params.version, actor);
      return { body: presentRelease(await releases.viewOf(release)), audit: { details: { digest: release.digest, by: actor.roles } } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/releases",
    tag: "releases",
    summary: "Releases, newest first, with cursor paging",
    access: "authenticated",
    query: ListReleasesQuery,
    handler: async ({ query }) => {
      const page = await releases.list(query);
      return { body: { items: page.items.map(presentReleaseSummary), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/releases/:product/:version",
    tag: "releases",
    summary: "A release with its components in dependency order and their artifacts",
    access: "authenticated",
    params: ReleaseParams,
    handler: async ({ params }) => ({ body: presentRelease(await releases.view(params.product, params.version)) }),
  });

  routes.add(router, "", {
    method: "get",
    path: "/releases/:product/:version/diff",
    tag: "releases",
    summary: "Components, artifacts and SQL scripts that change from release `from` to this one",
    access: "authenticated",
    params: ReleaseParams,
    query: DiffQuery,
    handler: async ({ params, query }) => {
      const [base, target] = await Promise.all([releases.view(params.product, query.from), releases.view(params.product, params.version)]);
      const diff = await diffReleases(base, target, releases.repo, catalog);
      return { body: { product: params.product, from: presentReleaseRef(base.release), to: presentReleaseRef(target.release), ...diff } };
    },
  });

  return router;
}
