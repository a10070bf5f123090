/**
 * The users' main paths in a real browser against a real server: CI uploads through the
 * API, the DBA reviews SQL in the browser, the delivery lead composes, seals and compares
 * releases, an operator creates a customer and a site; plus the catalog. Each main page
 * gets an accessibility check and a screenshot under docs/screenshots/.
 */
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer, type TestUser } from "../../support/server.js";
import { assertAccessible, browserAvailable, ensureWebBuilt, launchBrowser, newPage, screenshot, signIn } from "./browser.js";

async function upload(server: TestServer, token: string, path: string, body: string, headers: Record<string, string> = {}): Promise<void> {
  const response = await fetch(`${server.url}/api/v1/artifacts/${path}`, { method: "PUT", headers: { authorization: `Bearer ${token}`, ...headers }, body });
  assert.ok(response.status === 201, `upload ${path}: ${response.status} ${await response.text()}`);
}

function navLink(page: Page, name: string) {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });
}

const SQL_HEADERS = { "x-sql-database": "orders", "x-sql-dialect": "postgresql" };

describe("web console workflows", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let dba: TestUser;
  let delivery: TestUser;
  let operator: TestUser;

  before(async () => {
    assert.ok(browserAvailable(), "Chromium is missing: apt-get install -y chromium");
    ensureWebBuilt();
    server = await startTestServer();
    const ci = await server.user(["ci"], "ci-bot");
    dba = await server.user(["dba"], "dana-dba");
    delivery = await server.user(["delivery"], "dora-delivery");
    operator = await server.user(["operator"], "otto-operator");
    // CI uploads two versions of orders-api, each with a tarball and a Flyway SQL script.
    await upload(server, ci.token, "orders-api/1.0.0/orders-api-1.0.0.tar.gz", "tarball 1.0.0");
    await upload(server, ci.token, "orders-api/1.0.0/V1.0.0.1__create_orders.sql", "CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(12,2));\n", SQL_HEADERS);
    await upload(server, ci.token, "orders-api/1.1.0/orders-api-1.1.0.tar.gz", "tarball 1.1.0");
    await upload(
      server,
      ci.token,
      "orders-api/1.1.0/V1.1.0.1__add_status.sql",
      "-- order status for the new workflow\nALTER TABLE orders ADD COLUMN status text;\nUPDATE orders SET status = 'open';\n",
      SQL_HEADERS,
    );
    browser = await launchBrowser();
  });

  // Each user gets a fresh browser context, as a separate person would.
  beforeEach(async () => {
    page = await newPage(browser, server.url);
  });
  afterEach(async () => {
    await page?.context().close();
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("the DBA reads a script with its findings inline, must give a reason to reject, and approves", async () => {
    await signIn(page, dba.username, dba.password);
    await navLink(page, "SQL review").click();
    await page.getByRole("link", { name: "V1.1.0.1__add_status.sql" }).waitFor();
    assert.equal(await page.locator("tbody tr").count(), 2, "both scripts wait for review");
    await assertAccessible(page, "SQL review queue");
    await screenshot(page, "sql-review-queue");

    await page.getByRole("link", { name: "V1.1.0.1__add_status.sql" }).click();
    await page.getByRole("heading", { name: "V1.1.0.1__add_status.sql", level: 1 }).waitFor();
    const code = page.getByRole("region", { name: "Script content" });
    assert.ok((await code.textContent())?.includes("UPDATE orders SET status"));
    assert.ok((await code.locator(".tok-kw").count()) > 3, "keywords are highlighted");
    // The UPDATE on line 3 has no WHERE: its finding sits right under that line.
    const flagged = code.locator("tr.has-finding.error").filter({ hasText: "UPDATE orders SET status" });
    assert.equal(await flagged.count(), 1);
    const finding = code.locator("tr.has-finding.error + tr.finding-row");
    assert.match((await finding.textContent()) ?? "", /update_without_where/);

    await page.getByRole("button", { name: "Reject" }).click();
    await page.locator("form [role=alert]").waitFor();
    assert.match((await page.locator("form [role=alert]").textContent()) ?? "", /comment/i);

    await page.getByLabel("Comment").fill("Backfill is bounded: the table is small at every site.");
    await page.getByRole("button", { name: "Approve" }).click();
    await page.getByRole("list", { name: "Decisions" }).waitFor();
    assert.ok((await page.getByRole("list", { name: "Decisions" }).textContent())?.includes("dana-dba"));
    await assertAccessible(page, "SQL script page");
    await screenshot(page, "sql-script");

    const approved = await server.call("GET", "/api/v1/sql-scripts?status=approved", { token: dba.token });
    assert.deepEqual(approved.body.items.map((s: { filename: string }) => s.filename), ["V1.1.0.1__add_status.sql"]);
  });

  test("the delivery lead composes and seals two releases and compares them", async () => {
    await signIn(page, delivery.username, delivery.password);
    for (const version of ["1.0.0", "1.1.0"]) {
      await navLink(page, "Releases").click();
      await page.getByRole("link", { name: "New release" }).click();
      await page.getByLabel("Product").fill("orders");
      await page.getByLabel("Version", { exact: true }).fill(version);
      await page.getByLabel("Component 1 name").fill("orders-api");
      await page.getByLabel("Component 1 version").fill(version);
      if (version === "1.0.0") {
        await assertAccessible(page, "new release page");
        await screenshot(page, "release-new");
      }
      await page.getByRole("button", { name: "Create draft" }).click();
      await page.getByRole("heading", { name: `orders ${version}`, level: 1 }).waitFor();
      page.once("dialog", (dialog) => void dialog.accept());
      await page.getByRole("button", { name: "Seal release" }).click();
      await page.getByTestId("release-digest").waitFor();
    }
    const sealed = await server.call("GET", "/api/v1/releases/orders/1.1.0", { token: delivery.token });
    assert.equal(sealed.body.status, "sealed");
    assert.equal(await page.getByTestId("release-digest").textContent(), sealed.body.digest);

    await page.getByLabel("What changes from").selectOption("1.0.0");
    const diff = page.getByTestId("release-diff");
    await diff.waitFor();
    const text = (await diff.textContent()) ?? "";
    assert.match(text, /orders-api/);
    assert.match(text, /changed/);
    assert.match(text, /V1\.1\.0\.1__add_status\.sql/, "the SQL between the releases is listed");
    assert.doesNotMatch(text, /V1\.0\.0\.1__create_orders\.sql/, "scripts already in the base are not");
    await assertAccessible(page, "release page");
    await screenshot(page, "release-detail");

    await navLink(page, "Releases").click();
    await page.getByRole("link", { name: "orders 1.0.0" }).waitFor();
    await assertAccessible(page, "releases page");
    await screenshot(page, "releases");

    // A draft cannot name a component that is not in the catalog: the API says so.
    await page.getByRole("link", { name: "New release" }).click();
    await page.getByLabel("Product").fill("orders");
    await page.getByLabel("Version", { exact: true }).fill("9.9.9");
    await page.getByLabel("Component 1 name").fill("no-such-service");
    await page.getByLabel("Component 1 version").fill("1.0.0");
    await page.getByRole("button", { name: "Create draft" }).click();
    await page.getByRole("alert").filter({ hasText: "not in the catalog" }).waitFor();
  });

  test("an operator creates a customer and an agent site, sets variables (secrets write-only) and records what it runs", async () => {
    await signIn(page, operator.username, operator.password);
    await navLink(page, "Customers & sites").click();
    await page.getByLabel("Short name").fill("acme");
    await page.getByLabel("Display name").fill("ACME Logistics");
    await page.getByRole("button", { name: "Create customer" }).click();
    await page.getByRole("link", { name: "ACME Logistics" }).click();
    await page.getByRole("heading", { name: "ACME Logistics", level: 1 }).waitFor();

    await page.getByLabel("Name", { exact: true }).fill("plant-1");
    await page.getByLabel("Variables", { exact: true }).fill("DB_HOST=db.plant-1.internal");
    await page.getByLabel("Secret variables").fill("DB_PASSWORD=hunter2-very-secret");
    await page.getByRole("button", { name: "Create site" }).click();
    const agentToken = (await page.getByTestId("agent-token").textContent()) ?? "";
    assert.ok(agentToken.length > 20, "the agent token is shown once");
    await page.getByRole("link", { name: "plant-1" }).waitFor();
    await assertAccessible(page, "customer page");
    await screenshot(page, "customer");

    await page.getByRole("link", { name: "plant-1" }).click();
    await page.getByRole("heading", { name: "acme / plant-1" }).waitFor();
    const body = (await page.locator("main").textContent()) ?? "";
    assert.ok(body.includes("DB_HOST") && body.includes("db.plant-1.internal"));
    assert.ok(body.includes("DB_PASSWORD") && !body.includes("hunter2"), "secret values never come back");
    assert.ok(!body.includes(agentToken), "the agent token is not shown again");

    await page.getByLabel("Product").fill("orders");
    await page.getByLabel("Version").fill("1.0.0");
    await page.getByRole("button", { name: "Record as installed" }).click();
    await page.getByRole("link", { name: "orders 1.0.0" }).waitFor();
    await page.getByRole("list", { name: "Site history" }).waitFor();
    await assertAccessible(page, "site page");
    await screenshot(page, "site");

    await navLink(page, "Customers & sites").click();
    await page.getByRole("link", { name: "ACME Logistics" }).waitFor();
    await assertAccessible(page, "customers page");
    await screenshot(page, "customers");

    // The dashboard: the site runs 1.0.0 while 1.1.0 is the newest sealed release.
    await navLink(page, "Dashboard").click();
    const row = page.getByRole("row").filter({ hasText: "acme / plant-1" });
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /orders 1\.0\.0.*1\.1\.0.*1 release behind/);
    await assertAccessible(page, "dashboard");
    await screenshot(page, "dashboard");
  });

  test("the catalog lists components in dependency order and shows one descriptor", async () => {
    await signIn(page, operator.username, operator.password);
    await navLink(page, "Catalog").click();
    await page.getByRole("link", { name: "orders-api" }).waitFor();
    const names = await page.locator("tbody tr td:first-child a").allTextContents();
    assert.ok(names.indexOf("postgresql") < names.indexOf("orders-api"), `dependencies first: ${names.join(", ")}`);
    await assertAccessible(page, "catalog page");
    await screenshot(page, "catalog");
    await page.getByRole("link", { name: "orders-api" }).click();
    await page.getByRole("heading", { name: "orders-api", level: 1 }).waitFor();
    await page.getByRole("heading", { name: "Pipelines" }).waitFor();
  });
});
