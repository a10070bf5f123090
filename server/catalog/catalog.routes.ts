import { Router } from "express";
import { z } from "zod";
import type { RouteTable } from "../http/route.js";
import { presentCatalogState, presentComponent, presentComponentSummary } from "./catalog.presenter.js";
import { COMPONENT_NAME } from "./catalog.schema.js";
import type { CatalogService } from "./catalog.service.js";

const ComponentParams = z.strictObject({ component: z.string().regex(COMPONENT_NAME, "not a component name") });

export function catalogRoutes(routes: RouteTable, catalog: CatalogService): Router {
  const router = Router();

  routes.add(router, "", {
    method: "get",
    path: "/catalog",
    tag: "catalog",
    summary: "Every component of the catalog in dependency order, and the state of the last load",
    access: "authenticated",
    query: z.strictObject({}),
    handler: async () => ({ body: { items: catalog.list().map(presentComponentSummary), ...presentCatalogState(catalog.state()) } }),
  });

  routes.add(router, "", {
    method: "get",
    path: "/catalog/:component",
    tag: "catalog",
    summary: "One component's descriptor with its pipelines expanded",
    access: "authenticated",
    params: ComponentParams,
    handler: async ({ params }) => ({ body: presentComponent(catalog.require(params.component)) }),
  });

  routes.add(router, "", {
    method: "post",
    path: "/catalog/reload",
    tag: "catalog",
    summary: "Reload the catalog from disk; on any problem keep the current one and list every problem (400 catalog_invalid)",
    access: ["admin"],
    audit: { action: "catalog.reload", targetType: "catalog" },
    responses: { 400: "catalog_invalid: details.problems lists {file, line, message}" },
    handler: async () => {
      const loaded = await catalog.reload();
      return {
        body: { items: catalog.list().map(presentComponentSummary), ...presentCatalogState(catalog.state()) },
        audit: { target: "catalog", details: { components: loaded.order } },
      };
    },
  });

  return router;
}
