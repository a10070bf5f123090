/**
 * The web console in a real browser against a real server: sign in, upload by drag and
 * drop and by file picker, find the artifact, create and revoke an API token, create a
 * user, role-filtered navigation, API error messages, and an accessibility check of each
 * main page. Screenshots go to docs/screenshots/.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { Browser, Page } from "playwright-core";
import { startTestServer, type TestServer } from "../../support/server.js";
import { assertAccessible, browserAvailable, ensureWebBuilt, launchBrowser, newPage, screenshot, signIn } from "./browser.js";

/** Deterministic test content, built the same way in Node and in the page. */
function patternBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) % 251;
  return bytes;
}

describe("web console", () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;

  before(async () => {
    assert.ok(browserAvailable(), "Chromium is missing: apt-get install -y chromium");
    ensureWebBuilt();
    server = await startTestServer();
    browser = await launchBrowser();
    page = await newPage(browser, server.url);
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  test("a wrong password shows the API's message; the right one opens the console", async () => {
    await page.goto("/artifacts");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    await assertAccessible(page, "login page");
    await screenshot(page, "login");

    await page.getByLabel("Username").fill("admin");
    await page.getByLabel("Password").fill("not-the-password");
    await page.getByRole("button", { name: "Sign in" }).click();
    const alert = page.getByRole("alert");
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? "", /invalid|incorrect|wrong/i);

    await page.getByLabel("Password").fill(server.admin.password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Artifacts", level: 1 }).waitFor();
    assert.ok(await page.evaluate(() => sessionStorage.getItem("ferry.session")), "the JWT is kept in sessionStorage");
    const nav = await page.getByRole("navigation", { name: "Main" }).textContent();
    for (const entry of ["Artifacts", "Upload", "API tokens", "Users"]) assert.ok(nav?.includes(entry), `admin sees ${entry}`);
  });

  test("drag and drop streams a file with progress; it then appears in the list and its details", async () => {
    const size = 3 * 1024 * 1024 + 17;
    const expected = createHash("sha256").update(patternBytes(size, 7)).digest("hex");

    await page.getByRole("link", { name: "Upload", exact: true }).click();
    await page.getByRole("heading", { name: "Upload artifacts" }).waitFor();
    await assertAccessible(page, "upload page");
    await page.getByLabel("Component").fill("billing-api");
    await page.getByLabel("Version").fill("2.4.0");

    // A real drop event carrying a File, as the browser fires when a file is dragged in.
    const transfer = await page.evaluateHandle(
      ({ size, seed }) => {
        const bytes = new Uint8Array(size);
        for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) % 251;
        const data = new DataTransfer();
        data.items.add(new File([bytes], "billing-api-linux-amd64.tar.gz", { type: "application/gzip" }));
        return data;
      },
      { size, seed: 7 },
    );
    await page.getByTestId("dropzone").dispatchEvent("drop", { dataTransfer: transfer });
    await page.getByText("billing-api-linux-amd64.tar.gz").waitFor();
    await screenshot(page, "upload");
    await page.getByRole("button", { name: "Upload", exact: true }).click();

    const done = page.getByRole("link", { name: "Uploaded" });
    await done.waitFor();
    const progress = page.getByLabel("Upload progress of billing-api-linux-amd64.tar.gz");
    assert.equal(await progress.getAttribute("value"), String(size));
    assert.equal(await progress.getAttribute("max"), String(size));

    const stored = await server.call("GET", "/api/v1/artifacts/billing-api/2.4.0/billing-api-linux-amd64.tar.gz/info", { token: server.admin.token });
    assert.equal(stored.status, 200);
    assert.equal(stored.body.sha256, expected, "the server holds exactly the dropped bytes");
    assert.equal(stored.body.size, size);
    assert.equal(stored.body.uploadedBy, "admin");

    await page.getByRole("link", { name: "Artifacts", exact: true }).click();
    await page.getByRole("link", { name: "billing-api-linux-amd64.tar.gz" }).waitFor();
    await assertAccessible(page, "artifacts page");
    await screenshot(page, "artifacts");

    await page.getByRole("link", { name: "billing-api-linux-amd64.tar.gz" }).click();
    await page.getByRole("heading", { name: "billing-api-linux-amd64.tar.gz", level: 1 }).waitFor();
    assert.equal(await page.getByTestId("artifact-sha256").textContent(), expected);
    assert.ok((await page.locator("dl.facts").textContent())?.includes("admin"), "the uploader is shown");
    await assertAccessible(page, "artifact detail page");
    await screenshot(page, "artifact-detail");

    // Download streams through a short-lived link: a real browser download, not a Blob in memory.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Download", exact: true }).click()]);
    assert.equal(download.suggestedFilename(), "billing-api-linux-amd64.tar.gz");
    assert.match(download.url(), /\/api\/v1\/downloads\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    assert.equal(createHash("sha256").update(await readFile(await download.path())).digest("hex"), expected, "the downloaded file is exactly the uploaded one");
  });

  test("the file picker uploads; a wrong checksum shows the API's error and keeps nothing", async () => {
    await page.goto("/upload");
    await page.getByLabel("Component").fill("billing-db");
    await page.getByLabel("Version").fill("2.4.0");
    await page.locator("#u-files").setInputFiles({ name: "V2.4.0.1__add_index.sql", mimeType: "text/plain", buffer: Buffer.from("CREATE INDEX i ON t(c);\n") });
    // A .sql file asks for the script's database and dialect.
    await page.getByLabel("Logical database").fill("billing");
    await page.getByLabel("Dialect").selectOption("postgresql");
    await page.getByLabel("Expected SHA-256 (optional)").fill("0".repeat(64));
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    const failure = page.locator(".upload-list [role=alert]");
    await failure.waitFor();
    assert.match((await failure.textContent()) ?? "", /SHA-256 is [0-9a-f]{64}, not the declared 0{64}/);
    const missing = await server.call("GET", "/api/v1/artifacts?component=billing-db", { token: server.admin.token });
    assert.equal(missing.body.items.length, 0, "a failed upload leaves no artifact");

    // Retrying the same file without the wrong checksum succeeds.
    await page.getByRole("button", { name: "Remove V2.4.0.1__add_index.sql" }).click();
    await page.locator("#u-files").setInputFiles({ name: "V2.4.0.1__add_index.sql", mimeType: "text/plain", buffer: Buffer.from("CREATE INDEX i ON t(c);\n") });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.getByRole("link", { name: "Uploaded" }).waitFor();
  });

  test("search filters on the server and pages with the cursor", async () => {
    // Enough artifacts for two pages of 25.
    for (let i = 0; i < 27; i++) {
      const response = await fetch(`${server.url}/api/v1/artifacts/paging/1.0.0/file-${String(i).padStart(2, "0")}.bin`, {
        method: "PUT",
        headers: { authorization: `Bearer ${server.admin.token}` },
        body: `content ${i}`,
      });
      assert.equal(response.status, 201);
    }
    await page.goto("/artifacts?component=paging");
    await page.getByRole("link", { name: "file-00.bin" }).waitFor();
    assert.equal(await page.locator("tbody tr").count(), 25);
    await page.getByRole("button", { name: "Next" }).click();
    await page.getByRole("link", { name: "file-26.bin" }).waitFor();
    assert.equal(await page.locator("tbody tr").count(), 2);
    await page.getByRole("button", { name: "Previous" }).click();
    await page.getByRole("link", { name: "file-00.bin" }).waitFor();

    await page.goto("/artifacts");
    await page.getByLabel("Search").fill("add_index");
    await page.getByRole("button", { name: "Search", exact: true }).click();
    // The unfiltered first page may already show the script: wait for the filtered list itself.
    await page.waitForURL(/q=add_index/);
    await page.waitForFunction(() => document.querySelectorAll("tbody tr").length === 1);
    assert.equal(await page.locator("tbody tr").getByRole("link", { name: "V2.4.0.1__add_index.sql" }).count(), 1);
  });

  test("an API token is shown once, works, and stops working when revoked", async () => {
    await page.getByRole("link", { name: "API tokens" }).click();
    await page.getByRole("heading", { name: "API tokens", level: 1 }).waitFor();
    await page.getByLabel("Name").fill("ci-pipeline");
    // A token carries at most its owner's roles: the admin may only grant admin.
    assert.equal(await page.getByRole("checkbox", { name: "ci" }).count(), 0);
    await page.getByRole("checkbox", { name: "admin" }).check();
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = (await page.getByTestId("token-secret").textContent()) ?? "";
    assert.ok(secret.length > 20, "the new token is shown");
    const row = page.locator('tr[data-token-name="ci-pipeline"]');
    await row.waitFor();
    assert.ok((await row.textContent())?.includes("active"));
    await assertAccessible(page, "tokens page");
    await screenshot(page, "tokens");

    const me = await server.call("GET", "/api/v1/auth/me", { token: secret });
    assert.equal(me.status, 200);
    assert.deepEqual(me.body.roles, ["admin"]);
    assert.equal(me.body.kind, "token");

    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Revoke ci-pipeline" }).click();
    await row.getByText("revoked").waitFor();
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: secret })).status, 401);

    await page.getByRole("button", { name: "I have stored it" }).click();
    assert.equal(await page.getByTestId("token-secret").count(), 0, "the secret is gone from the page once dismissed");
  });

  test("the tokens list loads 50 at a time with Load more, each token once", async () => {
    // 54 more tokens through the API: with the revoked one, 55 in all, newest first.
    for (let i = 0; i < 54; i++) {
      const created = await server.call("POST", "/api/v1/tokens", { token: server.admin.token, body: { name: `bulk-${String(i).padStart(2, "0")}`, roles: ["admin"] } });
      assert.equal(created.status, 201, created.text);
    }
    await page.goto("/tokens");
    await page.locator('tr[data-token-name="bulk-53"]').waitFor();
    const rows = page.locator("tbody tr[data-token-name]");
    assert.equal(await rows.count(), 50);
    await page.getByText("50 tokens shown; there are more").waitFor();
    await page.getByRole("button", { name: "Load more" }).click();
    await page.locator('tr[data-token-name="ci-pipeline"]').waitFor();
    const names = await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-token-name")));
    assert.equal(names.length, 55);
    assert.equal(new Set(names).size, 55, "no token twice");
    assert.equal(await page.getByRole("button", { name: "Load more" }).count(), 0);

    // Revoking one on the second page keeps what is shown (no fold back to page one).
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Revoke bulk-00" }).click();
    await page.locator('tr[data-token-name="bulk-00"]').getByText("revoked").waitFor();
    assert.equal(await rows.count(), 55);
  });

  test("an admin creates a user; the API's validation message is shown", async () => {
    await page.getByRole("link", { name: "Users" }).click();
    await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
    await page.getByLabel("Username").fill("-bad");
    await page.getByLabel("Password", { exact: true }).fill("long-enough-password");
    await page.getByRole("checkbox", { name: "dba" }).check();
    await page.getByRole("button", { name: "Create user" }).click();
    await page.locator("form [role=alert]").waitFor();
    assert.match((await page.locator("form [role=alert]").textContent()) ?? "", /username/i);

    await page.getByLabel("Username").fill("dana");
    await page.getByRole("button", { name: "Create user" }).click();
    await page.getByRole("cell", { name: "dana", exact: true }).waitFor();
    await assertAccessible(page, "users page");
    await screenshot(page, "users");
    const users = await server.call("GET", "/api/v1/users", { token: server.admin.token });
    assert.ok(users.body.items.some((u: { username: string; roles: string[] }) => u.username === "dana" && u.roles.join() === "dba"));
  });

  test("an admin disables a user and enables them again; the last admin cannot be disabled", async () => {
    const dana = page.locator('tr[data-username="dana"]');
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Disable dana" }).click();
    await dana.getByText("disabled").waitFor();
    const listed = async (username: string) =>
      (await server.call("GET", "/api/v1/users", { token: server.admin.token })).body.items.find((u: { username: string }) => u.username === username);
    assert.equal((await listed("dana")).disabled, true);
    const login = await server.call("POST", "/api/v1/auth/login", { body: { username: "dana", password: "long-enough-password" } });
    assert.equal(login.status, 401, "a disabled user cannot sign in");

    await page.getByRole("button", { name: "Enable dana" }).click();
    await dana.getByText("active").waitFor();
    assert.equal((await listed("dana")).disabled, false);

    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Disable admin" }).click();
    await page.getByRole("alert").filter({ hasText: "last enabled admin" }).waitFor();
    assert.equal((await listed("admin")).disabled, false);
  });

  test("sign out, then a viewer sees only what viewers may use", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("ferry.session")), null);

    const viewer = await server.user(["viewer"]);
    await signIn(page, viewer.username, viewer.password);
    const nav = (await page.getByRole("navigation", { name: "Main" }).textContent()) ?? "";
    assert.ok(nav.includes("Artifacts"));
    assert.ok(!nav.includes("Users") && !nav.includes("Upload"), `viewer nav was: ${nav}`);
    await page.goto("/users");
    await page.getByRole("heading", { name: "Not allowed" }).waitFor();
  });

  test("a session the API rejects returns to the login page", async () => {
    await page.evaluate(() => sessionStorage.setItem("ferry.session", "not-a-valid-token"));
    await page.goto("/artifacts");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("ferry.session")), null);
  });
});
