/**
 * The operator's path in a real browser: start a deployment from a site's page, then watch
 * its steps, live log and final status while the site's agent (driven here through the
 * agent HTTP API with the site token, as ferry-agent would) reports progress. The release
 * is published through the API as CI and a delivery lead would.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "playwright-core";
import { bundleWorld } from "../../support/bundles.js";
import { startTestServer, type TestServer, type TestUser } from "../../support/server.js";
import { createSite, publishHello, writeHelloCatalog, type CreatedSite } from "../../../server/deployments/deployments.fixtures.js";
import { assertAccessible, browserAvailable, ensureWebBuilt, launchBrowser, newPage, screenshot, signIn } from "./browser.js";

describe("web console deployments", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-web-deployments-"));
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let operator: TestUser;
  let site: CreatedSite;

  before(async () => {
    assert.ok(browserAvailable(), "Chromium is missing: apt-get install -y chromium");
    ensureWebBuilt();
    server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir), FERRY_AGENT_RECHECK_MS: "100" } });
    const world = await bundleWorld(server);
    operator = await server.user(["operator"], "otto-operator");
    await publishHello(world, "1.0.0");
    await publishHello(world, "1.1.0");
    site = await createSite(server, operator, "acme", { name: "plant-1", connectivity: "agent", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "s3cret" } });
    browser = await launchBrowser();
    page = await newPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const agentEvents = async (id: string, body: Record<string, unknown>) => {
    const posted = await server.call("POST", `/api/v1/agent/deployments/${id}/events`, { token: site.agentToken, body });
    assert.equal(posted.status, 200, posted.text);
  };

  test("the operator starts a deployment on a site and follows its steps and log to the end", async () => {
    await signIn(page, operator.username, operator.password);
    await page.goto(`/sites/${site.id}`);
    await page.getByRole("link", { name: "Start deployment" }).click();
    await page.getByRole("heading", { name: "Deploy to acme / plant-1" }).waitFor();
    await page.getByLabel("Sealed release").selectOption("hello-suite@1.0.0");
    await assertAccessible(page, "start deployment");
    await page.getByRole("button", { name: "Start deployment" }).click();

    // The site runs nothing yet, so the server derives an install.
    await page.getByRole("heading", { name: "Install hello-suite 1.0.0", level: 1 }).waitFor();
    const id = new URL(page.url()).pathname.split("/").pop()!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    const log = page.getByTestId("deployment-log");
    await log.getByText("Waiting for the first log line…").waitFor();

    // The agent checks in and receives the deploy action once the bundle is ready.
    const polled = await server.call("POST", "/api/v1/agent/heartbeat?wait=60", { token: site.agentToken, body: { agentVersion: "0.1.0-test", inventory: {} } });
    assert.equal(polled.status, 200, polled.text);
    assert.equal(polled.body.action.deploymentId, id);

    await agentEvents(id, {
      status: "running",
      events: [
        { type: "step", seq: 1, component: "hello", name: "unpack hello", status: "running" },
        { type: "log", stream: "stdout", line: "unpacking 2 files" },
      ],
    });
    await log.getByText("unpacking 2 files").waitFor();
    const steps = page.getByTestId("deployment-steps");
    await steps.getByText("unpack hello").waitFor();
    await page.getByTestId("deployment-status").getByText("running").waitFor();
    assert.ok(await page.getByRole("button", { name: "Cancel deployment" }).isVisible(), "an operator may cancel a running deployment");

    await agentEvents(id, {
      events: [
        { type: "step", seq: 1, component: "hello", name: "unpack hello", status: "succeeded" },
        { type: "step", seq: 2, component: "hello", name: "say hello", status: "running" },
        { type: "log", stream: "stderr", line: "a warning" },
      ],
    });
    await log.getByText("a warning").waitFor();
    await steps.getByText("say hello").waitFor();
    assert.match((await steps.locator("li").first().textContent()) ?? "", /unpack hello.*succeeded/);

    await agentEvents(id, {
      status: "succeeded",
      events: [
        { type: "log", stream: "stdout", line: "1.0.0 installed" },
        { type: "step", seq: 2, component: "hello", name: "say hello", status: "succeeded" },
      ],
    });
    await log.getByText("1.0.0 installed").waitFor();
    await page.getByTestId("deployment-status").getByText("succeeded").waitFor();
    await page.getByText(/^Log complete/).waitFor();
    const lines = await log.locator(".log-line").allTextContents();
    assert.deepEqual(
      lines.map((l) => l.replace(/^\S+\s?(AM|PM)?/, "").trim()),
      // The server also logs each step transition and the final status.
      ["hello: unpack hello running", "unpacking 2 files", "hello: unpack hello succeeded", "hello: say hello running", "a warning", "1.0.0 installed", "hello: say hello succeeded", "deployment succeeded"],
      "each line once, in order",
    );
    assert.match((await steps.textContent()) ?? "", /say hello.*succeeded/);
    assert.equal(await page.getByRole("button", { name: "Cancel deployment" }).count(), 0, "a finished deployment cannot be cancelled");
    await assertAccessible(page, "deployment page");
    await screenshot(page, "deployment");

    await page.getByRole("link", { name: "← Deployments" }).click();
    const row = page.getByRole("row", { name: /hello-suite 1\.0\.0/ });
    await row.waitFor();
    assert.match((await row.textContent()) ?? "", /acme \/ plant-1.*install.*succeeded/);
    await page.getByLabel("Status").selectOption("failed");
    await page.getByText("No deployments match.").waitFor();
    await page.getByLabel("Status").selectOption("succeeded");
    await row.waitFor();
    await assertAccessible(page, "deployments list");
    await screenshot(page, "deployments");

    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Dashboard", exact: true }).click();
    await page.getByRole("heading", { name: "Deployments running or failed" }).waitFor();
    await page.getByText("No deployment is running and none failed recently.").waitFor();
  });

  test("the start form sends the bundle base (from) and a subset of services (components)", async () => {
    await page.goto(`/deployments/new?site=${site.id}`);
    await page.getByRole("heading", { name: "Deploy to acme / plant-1" }).waitFor();
    await page.getByLabel("Sealed release").selectOption("hello-suite@1.1.0");
    await page.getByLabel("Incremental from a release").check();
    await page.getByLabel("Base release").selectOption("1.0.0");
    await page.getByRole("checkbox", { name: "hello 1.1.0" }).check();
    await page.getByRole("button", { name: "Preview plan" }).click();
    const plan = page.getByTestId("bundle-plan");
    await plan.waitFor();
    assert.match((await plan.textContent()) ?? "", /incremental from 1\.0\.0 to hello-suite 1\.1\.0/);
    await assertAccessible(page, "start deployment with options");
    await screenshot(page, "deployment-start");
    await page.getByRole("button", { name: "Start deployment" }).click();
    await page.getByRole("heading", { name: /hello-suite 1\.1\.0/, level: 1 }).waitFor();
    const id = new URL(page.url()).pathname.split("/").pop()!;
    const created = await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token });
    assert.equal(created.status, 200, created.text);
    assert.equal(created.body.from, "1.0.0");
    assert.deepEqual(created.body.components, ["hello"]);
    const bundle = await server.call("GET", `/api/v1/bundles/${created.body.bundle}`, { token: operator.token });
    assert.equal(bundle.body.from, "1.0.0", "the bundle is incremental from the chosen base");
    assert.equal((await server.call("POST", `/api/v1/deployments/${id}/cancel`, { token: operator.token })).status, 200);
  });

  test("a running deployment whose agent went silent shows stalled with the last contact, until the agent reports again", async () => {
    const started = await server.call("POST", "/api/v1/deployments", { token: operator.token, body: { site: site.id, release: { product: "hello-suite", version: "1.1.0" } } });
    assert.equal(started.status, 202, started.text);
    const id: string = started.body.id;
    const polled = await server.call("POST", "/api/v1/agent/heartbeat?wait=60", { token: site.agentToken, body: { agentVersion: "0.1.0-test", inventory: {} } });
    assert.equal(polled.status, 200, polled.text);
    assert.equal(polled.body.action.deploymentId, id);
    await agentEvents(id, { status: "running", events: [{ type: "step", seq: 1, component: "hello", name: "unpack hello", status: "running" }] });

    await page.goto(`/deployments/${id}`);
    await page.getByTestId("deployment-steps").getByText("unpack hello").waitFor();
    await page.getByTestId("deployment-status").getByText("running").waitFor();
    assert.equal(await page.getByTestId("deployment-stalled").count(), 0, "an agent that reports is not stalled");
    assert.equal(await page.getByTestId("deployment-status").getByText("stalled").count(), 0);

    // The agent goes quiet: its last contact moves 20 minutes back and the server's own
    // watchdog scans as if the stall time had passed since it started listening.
    const lastContact = new Date(Date.now() - 20 * 60_000);
    await server.ctx.db.deployment.update({ where: { id }, data: { lastContactAt: lastContact } });
    const { watchdog } = server.ctx.deployments;
    assert.deepEqual(await watchdog.scan(new Date(Date.now() + 2 * server.ctx.config.FERRY_AGENT_STALL_MS)), [id]);
    const flagged = await server.call("GET", `/api/v1/deployments/${id}`, { token: operator.token });
    assert.equal(flagged.body.status, "running");
    assert.equal(flagged.body.lastContactAt, lastContact.toISOString());
    assert.ok(flagged.body.stalledAt);

    // The page re-reads a running deployment: the stall shows without a reload, with the
    // time of the agent's last contact as the browser formats it.
    // Time only when the contact was today (as the console formats it), else date and time.
    const contactTime = await page.evaluate((iso) => {
      const at = new Date(iso);
      return at.toDateString() === new Date().toDateString()
        ? at.toLocaleTimeString(undefined, { timeStyle: "short" })
        : at.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
    }, lastContact.toISOString());
    const alert = page.getByTestId("deployment-stalled");
    await alert.waitFor();
    const alertText = (await alert.textContent()) ?? "";
    assert.ok(alertText.includes(`Stalled — no word from the agent since ${contactTime}`), alertText);
    assert.equal(await alert.locator("time").getAttribute("datetime"), lastContact.toISOString());
    await page.getByTestId("deployment-status").getByText("stalled").waitFor();
    await page.getByTestId("deployment-status").getByText("running").waitFor();
    await assertAccessible(page, "stalled deployment");

    // The list shows it on the stalled row only; the finished deployments stay as they were.
    await page.goto(`/deployments?site=${site.id}`);
    const stalledRow = page.getByRole("row", { name: /hello-suite 1\.1\.0/ }).filter({ has: page.getByTestId("deployment-stalled") });
    await stalledRow.waitFor();
    assert.match((await stalledRow.textContent()) ?? "", /running stalled — no word from the agent since/);
    const succeededRow = page.getByRole("row", { name: /hello-suite 1\.0\.0/ });
    assert.match((await succeededRow.textContent()) ?? "", /succeeded/);
    assert.equal(await succeededRow.getByTestId("deployment-stalled").count(), 0, "a deployment without stalledAt is not stalled");
    assert.equal(await page.getByTestId("deployment-stalled").count(), 1);
    await assertAccessible(page, "deployments list with a stalled deployment");

    // The dashboard's running panel says so too.
    await page.goto("/");
    const panel = page.locator("section", { has: page.getByRole("heading", { name: "Deployments running or failed" }) });
    await panel.getByTestId("deployment-stalled").waitFor();

    // The agent reports again: the flag clears and the page follows.
    await page.goto(`/deployments/${id}`);
    await alert.waitFor();
    await agentEvents(id, { events: [{ type: "log", stream: "stdout", line: "back again" }] });
    await page.getByTestId("deployment-log").getByText("back again").waitFor();
    await alert.waitFor({ state: "detached" });
    assert.equal(await page.getByTestId("deployment-status").getByText("stalled").count(), 0);
    await page.getByTestId("deployment-status").getByText("running").waitFor();
    assert.equal((await server.call("POST", `/api/v1/deployments/${id}/cancel`, { token: operator.token })).status, 200);
  });
});
