/**
 * The delivery lead's path in a real browser: pick a site and a target release, preview
 * the incremental plan, build with live progress, download the bundle and see its
 * manifest. The scenario before it (uploads, approval, releases, site) is set up through
 * the API, as CI and the other users would.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer, type TestUser } from "../../support/server.js";
import { assertAccessible, browserAvailable, ensureWebBuilt, launchBrowser, newPage, screenshot, signIn } from "./browser.js";

async function ok(server: TestServer, method: string, path: string, token: string, body?: unknown) {
  const response = await server.call(method, path, { token, body });
  assert.ok(response.status < 300, `${method} ${path}: ${response.status} ${response.text}`);
  return response.body;
}

async function upload(server: TestServer, token: string, path: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/v1/artifacts/${path}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, ...headers }, body });
  const text = await response.text();
  assert.equal(response.status, 201, `upload ${path}: ${text}`);
  return JSON.parse(text) as { sql?: { id: string } };
}

describe("web console bundle builder", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let delivery: TestUser;

  before(async () => {
    assert.ok(browserAvailable(), "Chromium is missing: apt-get install -y chromium");
    ensureWebBuilt();
    server = await startTestServer();
    const ci = await server.user(["ci"]);
    const dba = await server.user(["dba"]);
    delivery = await server.user(["delivery"], "dora-delivery");
    const sql = { "x-sql-database": "orders", "x-sql-dialect": "postgresql" };
    await upload(server, ci.token, "orders-api/1.0.0/orders-api-1.0.0.tar.gz", "tarball 1.0.0 ".repeat(1000));
    const first = await upload(server, ci.token, "orders-api/1.0.0/V1.0.0.1__create_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY);\n", sql);
    await upload(server, ci.token, "orders-api/1.1.0/orders-api-1.1.0.tar.gz", "tarball 1.1.0 ".repeat(1000));
    const second = await upload(server, ci.token, "orders-api/1.1.0/V1.1.0.1__add_status.sql", "ALTER TABLE orders ADD COLUMN IF NOT EXISTS status text;\n", sql);
    for (const script of [first, second]) {
      await ok(server, "POST", `/api/v1/sql-scripts/${script.sql!.id}/review`, dba.token, { decision: "approve" });
    }
    for (const version of ["1.0.0", "1.1.0"]) {
      await ok(server, "POST", "/api/v1/releases", delivery.token, { product: "orders", version, components: [{ name: "orders-api", version }] });
      await ok(server, "POST", `/api/v1/releases/orders/${version}/seal`, delivery.token);
    }
    await ok(server, "POST", "/api/v1/customers", delivery.token, { name: "acme", displayName: "ACME Logistics" });
    const site = await ok(server, "POST", "/api/v1/customers/acme/sites", delivery.token, { name: "plant-1", environment: "production", platform: "vm", connectivity: "offline" });
    await ok(server, "POST", `/api/v1/sites/${site.id}/installed`, delivery.token, { product: "orders", version: "1.0.0" });
    browser = await launchBrowser();
    page = await newPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("preview an incremental plan, build with progress, download a bundle whose checksum matches, see the manifest", async () => {
    await signIn(page, delivery.username, delivery.password);
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Bundles", exact: true }).click();
    await page.getByRole("link", { name: "Build a bundle" }).click();
    await page.getByLabel("Customer", { exact: true }).selectOption("acme");
    await page.getByLabel("Site", { exact: true }).selectOption({ label: "plant-1 (production) · runs orders 1.0.0" });
    await page.getByLabel("Target release").selectOption("orders@1.1.0");
    await page.getByRole("button", { name: "Preview plan" }).click();
    const plan = page.getByTestId("bundle-plan");
    await plan.waitFor();
    const planText = (await plan.textContent()) ?? "";
    assert.match(planText, /incremental from 1\.0\.0 to orders 1\.1\.0/);
    assert.match(planText, /orders-api 1\.0\.0 → 1\.1\.0\s*upgrade/);
    assert.match(planText, /V1\.1\.0\.1__add_status\.sql/);
    assert.doesNotMatch(planText, /V1\.0\.0\.1__create_orders\.sql/, "the base's scripts already ran at the site");
    await assertAccessible(page, "bundle builder");
    await screenshot(page, "bundle-builder");

    await page.getByRole("button", { name: "Build bundle" }).click();
    await page.getByRole("heading", { name: "Bundle orders 1.1.0 from 1.0.0" }).waitFor();
    await page.getByTestId("bundle-sha256").waitFor({ timeout: 120_000 });
    const sha256 = (await page.getByTestId("bundle-sha256").textContent()) ?? "";
    assert.match(sha256, /^[0-9a-f]{64}$/);
    const manifest = JSON.parse((await page.getByTestId("bundle-manifest").textContent()) ?? "{}");
    assert.equal(manifest.release?.version, "1.1.0");

    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download", exact: true }).click()]);
    assert.match(download.url(), /\/api\/v1\/downloads\//, "a real browser download through a download link");
    assert.match(download.suggestedFilename(), /\.tar$/);
    const saved = await download.path();
    const digest = createHash("sha256").update(await readFile(saved)).digest("hex");
    assert.equal(digest, sha256, "the downloaded bundle is exactly the one the server describes");
    await assertAccessible(page, "bundle page");
    await screenshot(page, "bundle");

    await page.getByRole("link", { name: "← Bundles" }).click();
    await page.getByRole("link", { name: "orders 1.1.0 from 1.0.0" }).waitFor();
    await screenshot(page, "bundles");
  });
});
