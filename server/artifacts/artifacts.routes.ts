import { Router, type Request } from "express";
import { z } from "zod";
import { actorName } from "../auth/actor.js";
import type { AppContext } from "../context.js";
import { badRequest, notFound, payloadTooLarge, validationFailed } from "../errors.js";
import { checkInputText, type RouteTable } from "../http/route.js";
import { sendBlob } from "../http/send-blob.js";
import { presentArtifact } from "./artifacts.presenter.js";
import { ArtifactKind, ArtifactListQuery, ArtifactParams, BlobParams, ComponentName, UploadHeaders, Version, defaultKind } from "./artifacts.schema.js";
import { ArtifactsService, type UploadRequest } from "./artifacts.service.js";
import { discardParts, multipartUpload, type StoredPart } from "./multipart.js";

const WRITERS = ["ci", "admin"] as const;

function uploadHeaders(req: Request) {
  const parsed = UploadHeaders.safeParse(req.headers);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({ path: `headers.${issue.path.join(".")}`, message: issue.message }));
    throw validationFailed(`invalid headers: ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`, { issues });
  }
  return parsed.data;
}

const MultipartFields = z.strictObject({
  component: ComponentName,
  version: Version,
  kind: ArtifactKind.optional(),
  sqlDatabase: z.string().max(100).optional(),
  sqlDialect: z.string().max(20).optional(),
  sqlType: z.string().max(20).optional(),
});

/** The upload requests of a multipart body whose files are stored; throws 400 for bad fields or names. */
function multipartItems(body: unknown, files: Array<Express.Multer.File & StoredPart>, uploadedBy: string) {
  checkInputText(body ?? {}, "fields");
  const fields = MultipartFields.safeParse(body ?? {});
  if (!fields.success) throw validationFailed(`invalid form fields: ${fields.error.issues.map((i) => `${i.path.join(".")} ${i.message}`).join("; ")}`);
  if (!files.length) throw badRequest("no_files", "send at least one `file` part");
  return files.map((file) => {
    const filename = ArtifactParams.shape.filename.safeParse(file.originalname);
    if (!filename.success) throw validationFailed(`invalid filename ${JSON.stringify(file.originalname)}: ${filename.error.issues[0]?.message}`);
    const request: UploadRequest = {
      component: fields.data.component,
      version: fields.data.version,
      filename: filename.data,
      kind: fields.data.kind ?? defaultKind(filename.data),
      uploadedBy,
      contentType: file.mimetype,
      sql: { database: fields.data.sqlDatabase, dialect: fields.data.sqlDialect, type: fields.data.sqlType },
    };
    return { request, blob: { sha256: file.sha256, size: BigInt(file.size), created: file.created } };
  });
}

export function artifactRoutes(routes: RouteTable, ctx: AppContext): Router {
  const router = Router();
  const service = new ArtifactsService(ctx.db, ctx.blobs, ctx.sql, ctx.images, ctx.config.FERRY_MAX_UPLOAD_BYTES);

  routes.add(router, "", {
    method: "put",
    path: "/artifacts/:component/:version/:filename",
    tag: "artifacts",
    summary: "Upload an artifact (raw body, streamed; X-Checksum-Sha256 verified)",
    access: WRITERS,
    params: ArtifactParams,
    body: "stream",
    audit: { action: "artifact.upload", targetType: "artifact" },
    responses: { 200: "Same content already there", 201: "Created", 400: "checksum_mismatch", 404: "X-Checksum-Deploy: blob unknown", 409: "immutable" },
    handler: async ({ params, actor, req, commit }) => {
      const headers = uploadHeaders(req);
      const declaredLength = Number(req.headers["content-length"] ?? NaN);
      if (declaredLength > ctx.config.FERRY_MAX_UPLOAD_BYTES) throw payloadTooLarge(`uploads are limited to ${ctx.config.FERRY_MAX_UPLOAD_BYTES} bytes`);
      const request: UploadRequest = {
        ...params,
        kind: headers["x-artifact-kind"] ?? defaultKind(params.filename),
        uploadedBy: actorName(actor),
        contentType: req.headers["content-type"],
        expectedSha256: headers["x-checksum-sha256"],
        declaredBytes: Number.isSafeInteger(declaredLength) ? declaredLength : undefined,
        sql: { database: headers["x-sql-database"], dialect: headers["x-sql-dialect"], type: headers["x-sql-type"], orderVersion: headers["x-sql-order"] },
      };
      let staged;
      if (headers["x-checksum-deploy"] === "true") {
        if (!request.expectedSha256) throw badRequest("checksum_required", "X-Checksum-Deploy needs X-Checksum-Sha256");
        req.resume();
        staged = await service.stageByChecksum({ ...request, expectedSha256: request.expectedSha256 });
      } else {
        const controller = new AbortController();
        req.on("aborted", () => controller.abort());
        staged = await service.stage(request, req, controller.signal);
      }
      return commit(async () => {
        const result = await service.record(staged);
        const artifact = presentArtifact(result.artifact);
        return {
          status: result.created ? 201 : 200,
          body: artifact,
          headers: { Location: artifact.path, ETag: `"${artifact.sha256}"` },
          audit: { target: `${params.component}/${params.version}/${params.filename}`, details: { sha256: artifact.sha256, size: artifact.size, created: result.created } },
        };
      });
    },
  });

  routes.add(router, "", {
    method: "post",
    path: "/artifacts",
    tag: "artifacts",
    summary: "Upload artifacts as multipart/form-data (fields component, version, kind before one or more `file` parts)",
    access: WRITERS,
    body: "stream",
    before: [multipartUpload(ctx, ctx.config.FERRY_MAX_UPLOAD_BYTES, MultipartFields)],
    audit: { action: "artifact.upload", targetType: "artifact" },
    handler: async ({ actor, req, commit }) => {
      const files = (req.files ?? []) as Array<Express.Multer.File & StoredPart>;
      let items: ReturnType<typeof multipartItems>;
      try {
        items = multipartItems(req.body, files, actorName(actor));
      } catch (error) {
        // The files are stored by now (the fields and each name were checked before it);
        // a field sent after them can still be bad, and then they go again.
        await discardParts(ctx, files);
        throw error;
      }
      const prepared = await service.prepare(items);
      return commit(async () => {
        const results = await service.recordPrepared(prepared);
        return {
          status: results.some((r) => r.created) ? 201 : 200,
          body: { items: results.map((r) => ({ ...presentArtifact(r.artifact), created: r.created })) },
          audit: { target: `${items[0]!.request.component}/${items[0]!.request.version}`, details: { files: results.map((r) => r.artifact.filename) } },
        };
      });
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/artifacts",
    tag: "artifacts",
    summary: "List artifacts (keyset paging with cursor)",
    access: "authenticated",
    query: ArtifactListQuery,
    handler: async ({ query }) => {
      const page = await service.repo.list(query, query.cursor, query.limit);
      return { body: { items: page.items.map(presentArtifact), nextCursor: page.nextCursor } };
    },
  });

  for (const method of ["get", "head"] as const) {
    routes.add(router, "", {
      method,
      path: "/artifacts/:component/:version/:filename",
      tag: "artifacts",
      summary: "Download an artifact (Range, ETag, If-None-Match)",
      access: "authenticated",
      params: ArtifactParams,
      responses: { 200: "The file", 206: "A byte range", 304: "Not modified", 416: "Range not satisfiable" },
      handler: async ({ params, req, res }) => {
        const artifact = await service.repo.find(params);
        if (!artifact) throw notFound("artifact", `${params.component}/${params.version}/${params.filename}`);
        await sendBlob(ctx.blobs, req, res, { sha256: artifact.sha256, size: artifact.size, filename: artifact.filename });
      },
    });
    routes.add(router, "", {
      method,
      path: "/blobs/:sha256",
      tag: "artifacts",
      summary: "Download a blob by its SHA-256",
      access: "authenticated",
      params: BlobParams,
      handler: async ({ params, req, res }) => {
        const blob = await ctx.blobs.has(params.sha256);
        if (!blob) throw notFound("blob", params.sha256);
        await sendBlob(ctx.blobs, req, res, { sha256: params.sha256, size: blob.size });
      },
    });
  }

  routes.add(router, "", {
    method: "get",
    path: "/artifacts/:component/:version/:filename/info",
    tag: "artifacts",
    summary: "Artifact metadata, with the releases that include it",
    access: "authenticated",
    params: ArtifactParams,
    handler: async ({ params }) => {
      const artifact = await service.repo.find(params);
      if (!artifact) throw notFound("artifact", `${params.component}/${params.version}/${params.filename}`);
      const releases = await ctx.db.release.findMany({
        where: { components: { some: { name: artifact.component, version: artifact.version } } },
        select: { product: true, version: true, status: true },
        orderBy: { createdAt: "desc" },
      });
      return { body: { ...presentArtifact(artifact), releases } };
    },
  });

  routes.add(router, "", {
    method: "delete",
    path: "/artifacts/:component/:version/:filename",
    tag: "artifacts",
    summary: "Delete an artifact (refused while a sealed release uses it)",
    access: ["admin"],
    params: ArtifactParams,
    audit: { action: "artifact.delete", targetType: "artifact" },
    handler: async ({ params }) => {
      const artifact = await service.remove(params);
      return { status: 204, audit: { details: { sha256: artifact.sha256 } } };
    },
  });

  return router;
}
