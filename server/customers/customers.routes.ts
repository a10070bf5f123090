import { Router } from "express";
import type { AppContext } from "../context.js";
import type { RouteTable } from "../http/route.js";
import { presentCustomer } from "./customers.presenter.js";
import { CreateCustomerBody, CustomerListQuery, CustomerParams } from "./customers.schema.js";

export function customerRoutes(routes: RouteTable, ctx: Pick<AppContext, "customers">): Router {
  const router = Router();
  const customers = ctx.customers;

  routes.add(router, "", {
    method: "post",
    path: "/customers",
    tag: "customers",
    summary: "Create a customer",
    access: ["delivery", "operator", "admin"],
    body: CreateCustomerBody,
    audit: { action: "customer.create", targetType: "customer" },
    handler: async ({ body }) => {
      const customer = await customers.create(body);
      return { status: 201, body: presentCustomer(customer), audit: { target: customer.name } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/customers",
    tag: "customers",
    summary: "List customers by name (cursor paging)",
    access: "authenticated",
    query: CustomerListQuery,
    handler: async ({ query }) => {
      const page = await customers.list(query);
      return { body: { items: page.items.map(presentCustomer), nextCursor: page.nextCursor } };
    },
  });

  routes.add(router, "", {
    method: "get",
    path: "/customers/:customer",
    tag: "customers",
    summary: "A customer with its sites",
    access: "authenticated",
    params: CustomerParams,
    handler: async ({ params }) => {
      const customer = await customers.get(params.customer);
      return {
        body: {
          ...presentCustomer(customer),
          sites: customer.sites.map((site) => ({
            id: site.id,
            name: site.name,
            environment: site.environment,
            platform: site.platform,
            connectivity: site.connectivity,
            installed: site.installedProduct ? { product: site.installedProduct, version: site.installedVersion } : null,
          })),
        },
      };
    },
  });

  return router;
}
