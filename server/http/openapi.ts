/** GET /api/v1/openapi.json: generated from the route table, i.e. from the same zod schemas that validate requests. */
import { z } from "zod";
import type { RegisteredRoute } from "./route.js";

function jsonSchema(schema: z.ZodType): unknown {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any", target: "openapi-3.0" });
}

function parameters(schema: z.ZodType | undefined, location: "path" | "query") {
  if (!schema) return [];
  const json = jsonSchema(schema) as { properties?: Record<string, unknown>; required?: string[] };
  return Object.entries(json.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === "path" || (json.required ?? []).includes(name),
    schema: property,
  }));
}

function security(route: RegisteredRoute) {
  return route.access === "public" ? [] : [{ bearer: [] }, { basic: [] }];
}

function accessText(route: RegisteredRoute): string {
  if (route.access === "public") return "No authentication.";
  if (route.access === "authenticated") return "Any authenticated user or token.";
  if (route.access === "site") return "A site agent token.";
  return `Roles: ${route.access.join(", ")}.`;
}

export function buildOpenApi(routes: RegisteredRoute[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const openApiPath = route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
    const operation: Record<string, unknown> = {
      tags: [route.tag],
      summary: route.summary,
      description: accessText(route),
      security: security(route),
      parameters: [...parameters(route.params, "path"), ...parameters(route.query, "query")],
      responses: Object.fromEntries(
        Object.entries(route.responses ?? { 200: "OK" }).concat([["default", "Error: {error:{code,message,details}}"]]).map(([status, description]) => [status, { description }]),
      ),
    };
    if (route.body === "stream") {
      operation.requestBody = { required: true, content: { "application/octet-stream": { schema: { type: "string", format: "binary" } } } };
    } else if (route.body) {
      operation.requestBody = { required: true, content: { "application/json": { schema: jsonSchema(route.body) } } };
    }
    (paths[openApiPath] ??= {})[route.method] = operation;
  }
  return {
    openapi: "3.0.3",
    info: { title: "Ferry API", version, description: "Artifact and release-delivery server. See SPEC.md." },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "Session JWT, API token (fry_…) or site token (frs_…)" },
        basic: { type: "http", scheme: "basic", description: "Username and password or API token" },
      },
    },
    paths,
  };
}
