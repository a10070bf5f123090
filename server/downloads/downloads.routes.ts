/**
 * Browser downloads through short-lived signed links (see downloads.tickets.ts): a signed-in
 * caller asks for a link to an artifact or a ready bundle, which checks access and existence
 * then; the link itself streams the file, with Range and ETag, to whoever holds it until
 * it expires, or until the user it was made for is disabled or the API token it was asked
 * for with is revoked.
 */
import { Router } from "express";
import { actorName, type Actor } from "../auth/actor.js";
import type { AppContext } from "../context.js";
import { ArtifactsRepo } from "../artifacts/artifacts.repo.js";
import { ArtifactParams } from "../artifacts/artifacts.schema.js";
import type { BundlePart } from "../bundles/bundles.output.js";
import { sendBundle } from "../bundles/bundles.download.js";
import { BundleParams } from "../bundles/bundles.schema.js";
import { badRequest, conflict, notFound } from "../errors.js";
import type { RouteTable } from "../http/route.js";
import { sendBlob } from "../http/send-blob.js";
import { BundleLinkBody, DownloadParams } from "./downloads.schema.js";
import { DownloadTickets, downloadLinkPath, invalidLink, revokedLink, type LinkIssuer } from "./downloads.tickets.js";

export function downloadRoutes(routes: RouteTable, ctx: AppContext): Router {
  const router = Router();
  const tickets = new DownloadTickets(ctx.secrets.jwtSecret);
  const artifacts = new ArtifactsRepo(ctx.db);
  const link = (ticket: { ticket: string; expiresAt: Date }) => ({ url: downloadLinkPath(ticket.ticket), expiresAt: ticket.expiresAt.toISOString() });
  const issuerOf = (actor: Actor): LinkIssuer => {
    if (actor.kind === "site") throw new Error("a site token asked for a download link; the route's access should have refused it");
    return actor.kind === "token" ? { userId: actor.userId, tokenId: actor.tokenId } : { userId: actor.userId };
  };

  routes.add(router, "", {
    method: "post",
    path: "/artifacts/:component/:version/:filename/download-link",
    tag: "artifacts",
    summary: "A short-lived link that downloads this artifact without credentials (for browsers)",
    access: "authenticated",
    params: ArtifactParams,
    audit: { action: "artifact.download_link", targetType: "artifact" },
    responses: { 201: "{url, expiresAt}", 404: "no such artifact" },
    handler: async ({ params, actor }) => {
      const artifact = await artifacts.find(params);
      if (!artifact) throw notFound("artifact", `${params.component}/${params.version}/${params.filename}`);
      const issued = tickets.issue({ kind: "artifact", ...params }, actorName(actor), issuerOf(actor));
      return { status: 201, body: link(issued), audit: { details: { expiresAt: issued.expiresAt.toISOString() } } };
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/bundles/:id/download-link",
    tag: "bundles",
    summary: "A short-lived link that downloads this ready bundle (or one part) without credentials (for browsers)",
    access: "authenticated",
    params: BundleParams,
    body: BundleLinkBody,
    audit: { action: "bundle.download_link", targetType: "bundle" },
    responses: { 201: "{url, expiresAt}", 404: "no such bundle or part", 409: "bundle_not_ready" },
    handler: async ({ params, body, actor }) => {
      const bundle = await ctx.bundles.get(params.id);
      if (bundle.status !== "ready") throw conflict("bundle_not_ready", `bundle ${bundle.id} is ${bundle.status}`, { status: bundle.status });
      if (body.part !== undefined) {
        const parts = (bundle.parts as BundlePart[] | null) ?? null;
        if (!parts) throw badRequest("not_split", `bundle ${bundle.id} is a single file; ask for a link without a part`);
        if (!parts.some((p) => p.index === body.part)) throw notFound("bundle part", `${body.part} of ${parts.length}`);
      }
      const issued = tickets.issue({ kind: "bundle", id: bundle.id, ...(body.part !== undefined ? { part: body.part } : {}) }, actorName(actor), issuerOf(actor));
      return { status: 201, body: link(issued), audit: { details: { part: body.part ?? null, expiresAt: issued.expiresAt.toISOString() } } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/downloads/:ticket",
    tag: "downloads",
    summary: "Download what a download link names (Range, ETag); the link is the credential",
    access: "public",
    params: DownloadParams,
    responses: { 200: "The file", 206: "A byte range", 403: "invalid_download_link, download_link_revoked", 410: "download_link_expired" },
    handler: async ({ params, req, res }) => {
      const { target, by, issuer } = tickets.verify(params.ticket);
      if (!(await ctx.auth.mayStillAct(issuer))) throw revokedLink();
      req.log?.info({ download: target, linkFor: by }, "download link used");
      if (target.kind === "artifact") {
        const artifact = await artifacts.find(target);
        if (!artifact) throw notFound("artifact", `${target.component}/${target.version}/${target.filename}`);
        await sendBlob(ctx.blobs, req, res, { sha256: artifact.sha256, size: artifact.size, filename: artifact.filename });
        return;
      }
      if (target.kind === "bundle") {
        const bundle = await ctx.bundles.forDownload(target.id);
        await sendBundle(ctx.blobs, req, res, bundle, target.part);
        return;
      }
      throw invalidLink();
    },
  });

  return router;
}
