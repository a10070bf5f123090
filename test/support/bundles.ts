/**
 * Setup for bundle tests, all through the HTTP API as real users would: CI uploads
 * artifacts and creates and seals releases, a DBA (not the uploader) approves SQL, a
 * delivery lead creates customers and sites and requests bundles.
 */
import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { TestServer, TestUser } from "./server.js";

export interface BundleWorld {
  ci: TestUser;
  dba: TestUser;
  delivery: TestUser;
  upload(component: string, version: string, filename: string, content: string | Buffer | Readable, headers?: Record<string, string>): Promise<void>;
  uploadSql(component: string, version: string, filename: string, sql: string, database?: string): Promise<void>;
  /** Approves every pending script (as the DBA). */
  approveAll(): Promise<void>;
  release(product: string, version: string, components: Array<{ name: string; version: string }>, options?: { required?: boolean; seal?: boolean }): Promise<any>;
  site(customer: string, name: string, platform?: "vm" | "docker" | "k8s"): Promise<string>;
  /** POST /bundles; returns the response. */
  request(body: Record<string, unknown>): Promise<{ status: number; body: any; text: string }>;
  /** Polls GET /bundles/:id until it is ready or failed. */
  waitReady(id: string, timeoutMs?: number): Promise<any>;
  /** Streams GET /bundles/:id/download (or a part) to a file. */
  download(id: string, file: string, part?: number): Promise<void>;
}

export const BINARY = { "x-artifact-kind": "binary" };

export async function bundleWorld(server: TestServer): Promise<BundleWorld> {
  const ci = await server.user(["ci"]);
  const dba = await server.user(["dba"]);
  const delivery = await server.user(["delivery"]);
  const customers = new Set<string>();
  const world: BundleWorld = {
    ci,
    dba,
    delivery,
    async upload(component, version, filename, content, headers = {}) {
      const body = content instanceof Readable ? (Readable.toWeb(content) as ReadableStream) : content;
      const response = await fetch(`${server.url}/api/v1/artifacts/${component}/${version}/${encodeURIComponent(filename)}`, {
        method: "PUT",
        headers: { authorization: `Bearer ${ci.token}`, "content-type": "application/octet-stream", ...headers },
        body,
        ...(content instanceof Readable ? { duplex: "half" } : {}),
      } as RequestInit);
      const text = await response.text();
      assert.ok(response.status === 201 || response.status === 200, `upload ${component}/${version}/${filename}: ${response.status} ${text}`);
    },
    async uploadSql(component, version, filename, sql, database = "orders") {
      await world.upload(component, version, filename, sql, { "x-artifact-kind": "sql", "x-sql-database": database, "x-sql-dialect": "postgresql" });
    },
    async approveAll() {
      const pending = await server.call("GET", "/api/v1/sql-scripts?status=pending&limit=200", { token: dba.token });
      assert.equal(pending.status, 200, pending.text);
      for (const script of pending.body.items as Array<{ id: string }>) {
        const reviewed = await server.call("POST", `/api/v1/sql-scripts/${script.id}/review`, { token: dba.token, body: { decision: "approve", comment: "looks good" } });
        assert.equal(reviewed.status, 200, reviewed.text);
      }
    },
    async release(product, version, components, options = {}) {
      const created = await server.call("POST", "/api/v1/releases", { token: ci.token, body: { product, version, components, required: options.required ?? false } });
      assert.equal(created.status, 201, created.text);
      if (options.seal === false) return created.body;
      const sealed = await server.call("POST", `/api/v1/releases/${product}/${version}/seal`, { token: ci.token });
      assert.equal(sealed.status, 200, sealed.text);
      return sealed.body;
    },
    async site(customer, name, platform = "vm") {
      if (!customers.has(customer)) {
        const created = await server.call("POST", "/api/v1/customers", { token: delivery.token, body: { name: customer } });
        assert.ok(created.status === 201 || created.status === 409, created.text);
        customers.add(customer);
      }
      const site = await server.call("POST", `/api/v1/customers/${customer}/sites`, {
        token: delivery.token,
        body: { name, environment: "production", platform, connectivity: "offline" },
      });
      assert.equal(site.status, 201, site.text);
      return site.body.id as string;
    },
    request(body) {
      return server.call("POST", "/api/v1/bundles", { token: delivery.token, body });
    },
    async waitReady(id, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const bundle = await server.call("GET", `/api/v1/bundles/${id}`, { token: delivery.token });
        assert.equal(bundle.status, 200, bundle.text);
        if (bundle.body.status === "ready") return bundle.body;
        if (bundle.body.status === "failed") assert.fail(`bundle ${id} failed: ${bundle.body.error}`);
        if (Date.now() > deadline) assert.fail(`bundle ${id} not ready after ${timeoutMs} ms: ${bundle.text}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async download(id, file, part) {
      const response = await fetch(`${server.url}/api/v1/bundles/${id}/download${part ? `?part=${part}` : ""}`, { headers: { authorization: `Bearer ${delivery.token}` } });
      assert.equal(response.status, 200, `download ${id}: ${response.status}`);
      await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
    },
  };
  return world;
}
