import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { hashOpaqueToken } from "../auth/opaque-token.js";
import { open } from "../secrets/envelope.js";

// A real RSA key in PEM (PKCS#1), the format ssh clients and ssh2 read.
const PRIVATE_KEY = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs1", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "pem" },
}).privateKey;
const KEY_BODY = PRIVATE_KEY.split("\n")[5]!; // a line from the middle of the key material

const SECRET_DB_PASSWORD = "s3cret-db-pa55word-do-not-leak";
const SECRET_API_KEY = "api-key-9f8e7d6c5b4a-do-not-leak";
const SECRET_ROTATED = "rotated-value-77aa-do-not-leak";
const SECRETS = [SECRET_DB_PASSWORD, SECRET_API_KEY, SECRET_ROTATED, KEY_BODY];

function assertNoSecrets(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} leaks a secret`);
}

describe("customers and sites", () => {
  let server: TestServer;
  let operator: TestUser;
  let viewer: TestUser;
  let agentSite: any;
  let agentToken: string;
  let sshSite: any;

  before(async () => {
    server = await startTestServer();
    operator = await server.user(["operator"]);
    viewer = await server.user(["viewer"]);
  });
  after(async () => {
    await server?.close();
  });

  const call = (method: string, path: string, body?: unknown, token = operator.token) => server.call(method, `/api/v1${path}`, { token, body });
  const countRows = async () => ({
    customers: await server.ctx.db.customer.count(),
    sites: await server.ctx.db.site.count(),
    events: await server.ctx.db.siteEvent.count(),
  });

  it("creates and lists customers; a viewer cannot create; bad input changes nothing", async () => {
    assert.equal((await call("POST", "/customers", { name: "acme", displayName: "ACME Corp" }, viewer.token)).status, 403);
    const created = await call("POST", "/customers", { name: "acme", displayName: "ACME Corp" });
    assert.equal(created.status, 201);
    assert.equal(created.body.name, "acme");
    assert.equal((await call("POST", "/customers", { name: "acme" })).body.error.code, "already_exists");
    const before = await countRows();
    for (const body of [{ name: "Not A Slug" }, { name: "" }, { name: "x", extra: 1 }, {}]) {
      const response = await call("POST", "/customers", body);
      assert.equal(response.status, 400, JSON.stringify(body));
    }
    assert.deepEqual(await countRows(), before);
    for (const name of ["beta", "gamma"]) assert.equal((await call("POST", "/customers", { name })).status, 201);
    const page1 = await call("GET", "/customers?limit=2", undefined, viewer.token);
    assert.equal(page1.status, 200);
    assert.deepEqual(page1.body.items.map((c: { name: string }) => c.name), ["acme", "beta"]);
    const page2 = await call("GET", `/customers?limit=2&cursor=${page1.body.nextCursor}`, undefined, viewer.token);
    assert.deepEqual(page2.body.items.map((c: { name: string }) => c.name), ["gamma"]);
    assert.equal(page2.body.nextCursor, null);
    assert.equal((await call("GET", "/customers/nope")).status, 404);
  });

  it("creates an agent site: the token is shown once and stored only hashed", async () => {
    const created = await call("POST", "/customers/acme/sites", {
      name: "prod-eu",
      environment: "production",
      platform: "k8s",
      connectivity: "agent",
      variables: { REGION: "eu-west", REPLICAS: 3 },
      secretVariables: { DB_PASSWORD: SECRET_DB_PASSWORD, API_KEY: SECRET_API_KEY },
    });
    assert.equal(created.status, 201, created.text);
    agentSite = created.body;
    agentToken = created.body.agentToken;
    assert.match(agentToken, /^frs_/);
    assert.deepEqual(agentSite.variables, { REGION: "eu-west", REPLICAS: "3" });
    assert.deepEqual(agentSite.secretVariables, ["API_KEY", "DB_PASSWORD"]);
    assert.equal(agentSite.agent.online, false);
    assertNoSecrets(created.text, "create response");

    const [row] = await server.ctx.db.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM "Site" WHERE id = ${agentSite.id}`;
    assert.equal(row!.agentTokenHash, hashOpaqueToken(agentToken));
    const dump = JSON.stringify(row);
    assert.ok(!dump.includes(agentToken), "the database holds the agent token in plaintext");
    assertNoSecrets(dump, "the Site row");
    assert.deepEqual(JSON.parse(open(server.ctx.secrets.secretKey, row!.secretVariables as string)), { DB_PASSWORD: SECRET_DB_PASSWORD, API_KEY: SECRET_API_KEY });

    // The token authenticates as the site: a site token is refused by user routes (403),
    // while an unknown one is not recognised at all (401).
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: agentToken })).status, 403);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: "frs_unknown" })).status, 401);
    const detail = await call("GET", `/sites/${agentSite.id}`);
    assert.equal(detail.body.agentToken, undefined);
    assert.ok(!detail.text.includes(agentToken));
  });

  it("creates an ssh site with the private key encrypted at rest and never shown", async () => {
    const body = {
      name: "onprem",
      environment: "staging",
      platform: "vm",
      connectivity: "ssh",
      ssh: { host: "10.0.0.5", user: "deploy", hosts: ["10.0.0.6"], bastion: { host: "bastion.acme.example", user: "jump" }, privateKey: PRIVATE_KEY },
    };
    const created = await call("POST", "/customers/acme/sites", body);
    assert.equal(created.status, 201, created.text);
    sshSite = created.body;
    assert.deepEqual(sshSite.ssh, { host: "10.0.0.5", port: 22, user: "deploy", hosts: ["10.0.0.6"], bastion: { host: "bastion.acme.example", port: 22, user: "jump" }, hasPrivateKey: true });
    assert.equal(sshSite.agentToken, undefined);
    assertNoSecrets(created.text, "ssh create response");
    const [row] = await server.ctx.db.$queryRaw<Array<{ sshPrivateKey: string; ssh: unknown }>>`SELECT "sshPrivateKey", ssh FROM "Site" WHERE id = ${sshSite.id}`;
    assertNoSecrets(JSON.stringify(row), "the ssh Site row");
    assert.equal(open(server.ctx.secrets.secretKey, row!.sshPrivateKey), PRIVATE_KEY);
    // The server-internal accessors give the deployment code what it needs.
    const credentials = await server.ctx.sites.sshCredentials(sshSite.id);
    assert.equal(credentials?.privateKey, PRIVATE_KEY);
    assert.equal(credentials?.bastion?.user, "jump");
    assert.equal(await server.ctx.sites.sshCredentials(agentSite.id), null);
  });

  it("rejects bad site input with a clear 4xx and changes nothing", async () => {
    const before = await countRows();
    const base = { name: "bad", environment: "production", platform: "vm", connectivity: "offline" };
    const cases: Array<[unknown, number, string]> = [
      [{ ...base, connectivity: "ssh" }, 400, "ssh_required"],
      [{ ...base, connectivity: "ssh", ssh: { host: "h", user: "u", privateKey: "not a key" } }, 400, "invalid_private_key"],
      [{ ...base, ssh: { host: "h", user: "u", privateKey: PRIVATE_KEY } }, 400, "ssh_not_applicable"],
      [{ ...base, platform: "mainframe" }, 400, "validation_failed"],
      [{ ...base, variables: { "BAD-NAME": "x" } }, 400, "validation_failed"],
      [{ ...base, variables: { A: "1" }, secretVariables: { A: SECRET_API_KEY } }, 400, "variable_conflict"],
      [{ ...base, unknown: true }, 400, "validation_failed"],
      [{ ...base, name: "prod-eu" }, 409, "already_exists"],
    ];
    for (const [body, status, code] of cases) {
      const response = await call("POST", "/customers/acme/sites", body);
      assert.equal(response.status, status, `${JSON.stringify(body).slice(0, 120)} → ${response.text}`);
      assert.equal(response.body.error.code, code);
      assertNoSecrets(response.text, "an error response");
    }
    assert.equal((await call("POST", "/customers/nobody/sites", base)).status, 404);
    assert.equal((await call("POST", "/customers/acme/sites", base, viewer.token)).status, 403);
    assert.deepEqual(await countRows(), before);
  });

  it("edits variables: values replace, null deletes, secret values stay write-only", async () => {
    const patched = await call("PATCH", `/sites/${agentSite.id}`, {
      environment: "prod",
      variables: { REPLICAS: "5", REGION: null, NEW_ONE: "x" },
      secretVariables: { API_KEY: SECRET_ROTATED, DB_PASSWORD: null, TOKEN: SECRET_DB_PASSWORD },
    });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.environment, "prod");
    assert.deepEqual(patched.body.variables, { REPLICAS: "5", NEW_ONE: "x" });
    assert.deepEqual(patched.body.secretVariables, ["API_KEY", "TOKEN"]);
    assertNoSecrets(patched.text, "patch response");
    assert.deepEqual(await server.ctx.sites.siteVariables(agentSite.id), {
      plain: { REPLICAS: "5", NEW_ONE: "x" },
      secret: { API_KEY: SECRET_ROTATED, TOKEN: SECRET_DB_PASSWORD },
    });
    const before = await countRows();
    for (const body of [{}, { variables: { TOKEN: "clash" } }, { name: "renamed" }, { secretVariables: { "no spaces": "x" } }]) {
      assert.equal((await call("PATCH", `/sites/${agentSite.id}`, body)).status, 400, JSON.stringify(body));
    }
    assert.equal((await call("PATCH", `/sites/${agentSite.id}`, { environment: "x" }, viewer.token)).status, 403);
    assert.deepEqual(await countRows(), before);
    const [row] = await server.ctx.db.$queryRaw<Array<Record<string, unknown>>>`SELECT * FROM "Site" WHERE id = ${agentSite.id}`;
    assertNoSecrets(JSON.stringify(row), "the Site row after patch");
  });

  it("concurrent edits of different variables keep every change", async () => {
    const keys = ["C1", "C2", "C3", "C4", "C5"];
    const responses = await Promise.all(keys.map((key) => call("PATCH", `/sites/${agentSite.id}`, { secretVariables: { [key]: `${key}-value` } })));
    assert.deepEqual(responses.map((r) => r.status), keys.map(() => 200));
    const { secret } = await server.ctx.sites.siteVariables(agentSite.id);
    for (const key of keys) assert.equal(secret[key], `${key}-value`);
    const cleaned = await call("PATCH", `/sites/${agentSite.id}`, { secretVariables: Object.fromEntries(keys.map((key) => [key, null])) });
    assert.deepEqual(cleaned.body.secretVariables, ["API_KEY", "TOKEN"]);
  });

  it("records the installed release (404 for an unknown one) and shows it with the history", async () => {
    assert.equal((await call("POST", `/sites/${agentSite.id}/installed`, { product: "shop", version: "9.9.9" })).status, 404);
    await server.ctx.db.release.create({
      data: { product: "shop", version: "1.0.0", status: "sealed", createdBy: "test", components: { create: [{ name: "api", version: "1.0.0", position: 0 }, { name: "web", version: "1.0.2", position: 1 }] } },
    });
    assert.equal((await call("POST", `/sites/${agentSite.id}/installed`, { product: "shop", version: "1.0.0" }, viewer.token)).status, 403);
    const recorded = await call("POST", `/sites/${agentSite.id}/installed`, { product: "shop", version: "1.0.0" });
    assert.equal(recorded.status, 200, recorded.text);
    assert.deepEqual(recorded.body.installed, { product: "shop", version: "1.0.0", components: [{ name: "api", version: "1.0.0" }, { name: "web", version: "1.0.2" }] });
    const detail = await call("GET", `/sites/${agentSite.id}`, undefined, viewer.token);
    assert.equal(detail.status, 200);
    assert.equal(detail.body.installed.version, "1.0.0");
    const kinds = detail.body.history.map((e: { kind: string }) => e.kind);
    assert.equal(kinds[0], "installed-recorded");
    assert.equal(kinds[kinds.length - 1], "created");
    assert.equal(kinds.filter((kind: string) => kind === "updated").length, 7);
    assert.equal(detail.body.history[0].actor, operator.username);
    assert.deepEqual(detail.body.history[0].details.components.map((c: { name: string }) => c.name), ["api", "web"]);
    // History names the secret variables that changed, never their values.
    const firstEdit = detail.body.history[kinds.length - 2];
    assert.deepEqual(firstEdit.details.secretVariables, ["API_KEY", "DB_PASSWORD", "TOKEN"]);
    assert.deepEqual(detail.body.agent, { hasToken: true, version: null, lastSeenAt: null, online: false });
    assert.equal(detail.body.inventory, null);
    assertNoSecrets(detail.text, "site detail");
  });

  it("lists sites per customer with cursor paging and no secrets", async () => {
    assert.equal((await call("POST", "/customers/beta/sites", { name: "lab", environment: "test", platform: "docker", connectivity: "offline" })).status, 201);
    const all = await call("GET", "/sites?limit=2", undefined, viewer.token);
    assert.equal(all.status, 200);
    assert.equal(all.body.items.length, 2);
    const rest = await call("GET", `/sites?limit=2&cursor=${all.body.nextCursor}`, undefined, viewer.token);
    assert.equal(rest.body.items.length, 1);
    assert.equal(rest.body.nextCursor, null);
    assertNoSecrets(all.text + rest.text, "site list");
    const acme = await call("GET", "/sites?customer=acme");
    assert.deepEqual(acme.body.items.map((s: { name: string }) => s.name).sort(), ["onprem", "prod-eu"]);
    assert.equal((await call("GET", "/sites?customer=nobody")).status, 404);
    const customer = await call("GET", "/customers/acme", undefined, viewer.token);
    assert.deepEqual(customer.body.sites.map((s: { name: string }) => s.name), ["onprem", "prod-eu"]);
    assertNoSecrets(customer.text, "customer detail");
    assert.equal((await call("GET", "/sites/00000000-0000-4000-8000-000000000000")).status, 404);
  });

  it("rotates the agent token: the old one stops working", async () => {
    const delivery = await server.user(["delivery"]);
    assert.equal((await call("POST", `/sites/${agentSite.id}/agent-token`, undefined, delivery.token)).status, 403);
    assert.equal((await call("POST", `/sites/${sshSite.id}/agent-token`)).body.error.code, "not_agent_site");
    const rotated = await call("POST", `/sites/${agentSite.id}/agent-token`);
    assert.equal(rotated.status, 201);
    assert.notEqual(rotated.body.agentToken, agentToken);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: agentToken })).status, 401);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: rotated.body.agentToken })).status, 403);
  });

  it("keeps secrets out of the audit log", async () => {
    const audit = await server.call("GET", "/api/v1/audit?limit=500", { token: server.admin.token });
    assert.equal(audit.status, 200);
    assert.ok(audit.body.items.some((e: { action: string }) => e.action === "site.create"));
    assertNoSecrets(audit.text, "audit log");
  });
});
