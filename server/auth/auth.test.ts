import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import jwt from "jsonwebtoken";
import { startTestServer, type TestServer } from "../../test/support/server.js";

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => {
  await server?.close();
});

function basic(username: string, secret: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${secret}`).toString("base64")}` };
}

describe("login and sessions", () => {
  test("login returns a JWT that authenticates", async () => {
    const login = await server.call("POST", "/api/v1/auth/login", { body: { username: "admin", password: server.admin.password } });
    assert.equal(login.status, 200);
    assert.ok(login.body.token);
    assert.ok(new Date(login.body.expiresAt).getTime() > Date.now());
    assert.deepEqual(login.body.user.roles, ["admin"]);
    assert.equal(login.body.user.passwordHash, undefined);
    const me = await server.call("GET", "/api/v1/auth/me", { token: login.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.username, "admin");
  });

  test("a wrong password is refused with 401 and no hint which part was wrong", async () => {
    const wrong = await server.call("POST", "/api/v1/auth/login", { body: { username: "admin", password: "nope" } });
    const unknown = await server.call("POST", "/api/v1/auth/login", { body: { username: "ghost", password: "nope" } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.equal(wrong.body.error.message, unknown.body.error.message);
  });

  test("an expired JWT is refused", async () => {
    const secret = server.ctx.secrets.jwtSecret;
    const expired = jwt.sign({ username: "admin", exp: Math.floor(Date.now() / 1000) - 10 }, secret, { algorithm: "HS256", subject: "x", issuer: "ferry" });
    const response = await server.call("GET", "/api/v1/auth/me", { token: expired });
    assert.equal(response.status, 401);
    assert.equal(response.body.error.code, "unauthorized");
  });

  test("an alg:none JWT and an HS512 JWT are refused", async () => {
    const admin = await server.ctx.db.user.findUniqueOrThrow({ where: { username: "admin" } });
    const header = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    const payload = Buffer.from(JSON.stringify({ sub: admin.id, username: "admin", iss: "ferry", exp: Math.floor(Date.now() / 1000) + 3600 })).toString("base64url");
    const none = await server.call("GET", "/api/v1/users", { token: `${header}.${payload}.` });
    assert.equal(none.status, 401);
    const hs512 = jwt.sign({ username: "admin" }, server.ctx.secrets.jwtSecret, { algorithm: "HS512", subject: admin.id, issuer: "ferry" });
    assert.equal((await server.call("GET", "/api/v1/users", { token: hs512 })).status, 401);
  });

  test("login is rate limited per client and username", async () => {
    const limited = await startTestServer({ env: { FERRY_LOGIN_RATE_LIMIT: "3" } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await limited.call("POST", "/api/v1/auth/login", { body: { username: "victim", password: "guess" } })).status);
      }
      assert.deepEqual(statuses.slice(0, 3), [401, 401, 401]);
      assert.equal(statuses[4], 429);
    } finally {
      await limited.close();
    }
  });
});

describe("API tokens", () => {
  test("a token is shown once, stored hashed, works as Bearer and Basic, and revokes at once", async () => {
    const ci = await server.user(["ci"]);
    const created = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: { name: "pipeline", roles: ["ci"], expiresInDays: 30 } });
    assert.equal(created.status, 201);
    const secret: string = created.body.token;
    assert.match(secret, /^fry_/);
    const row = await server.ctx.db.apiToken.findUniqueOrThrow({ where: { id: created.body.id } });
    assert.notEqual(row.tokenHash, secret);
    assert.ok(!JSON.stringify(row).includes(secret));

    const listed = await server.call("GET", "/api/v1/tokens", { token: ci.token });
    assert.equal(listed.status, 200);
    assert.ok(!listed.text.includes(secret));

    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: secret })).status, 200);
    const viaBasic = await server.call("GET", "/api/v1/auth/me", { headers: basic(ci.username, secret) });
    assert.equal(viaBasic.status, 200);
    assert.equal(viaBasic.body.username, ci.username);
    const viaPassword = await server.call("GET", "/api/v1/auth/me", { headers: basic(ci.username, ci.password) });
    assert.equal(viaPassword.status, 200);

    assert.equal((await server.call("DELETE", `/api/v1/tokens/${created.body.id}`, { token: ci.token })).status, 204);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: secret })).status, 401);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { headers: basic(ci.username, secret) })).status, 401);
  });

  test("a token cannot carry a role its owner lacks", async () => {
    const ci = await server.user(["ci"]);
    const response = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: { name: "escalate", roles: ["admin"] } });
    assert.equal(response.status, 403);
    assert.equal(response.body.error.code, "role_not_held");
    assert.equal(await server.ctx.db.apiToken.count({ where: { name: "escalate" } }), 0);
  });

  test("an expired token is refused", async () => {
    const ci = await server.user(["ci"]);
    const created = await server.call("POST", "/api/v1/tokens", { token: ci.token, body: { name: "short", roles: ["ci"], expiresInDays: 1 } });
    await server.ctx.db.apiToken.update({ where: { id: created.body.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: created.body.token })).status, 401);
  });

  test("a user cannot revoke someone else's token", async () => {
    const owner = await server.user(["ci"]);
    const other = await server.user(["ci"]);
    const created = await server.call("POST", "/api/v1/tokens", { token: owner.token, body: { name: "mine", roles: ["ci"] } });
    assert.equal((await server.call("DELETE", `/api/v1/tokens/${created.body.id}`, { token: other.token })).status, 404);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: created.body.token })).status, 200);
  });
});

describe("users", () => {
  test("only admins manage users; bad input changes nothing", async () => {
    const viewer = await server.user(["viewer"]);
    assert.equal((await server.call("GET", "/api/v1/users", { token: viewer.token })).status, 403);
    const denied = await server.call("POST", "/api/v1/users", { token: viewer.token, body: { username: "sneaky", password: "password123", roles: ["admin"] } });
    assert.equal(denied.status, 403);
    const unknownRole = await server.call("POST", "/api/v1/users", { token: server.admin.token, body: { username: "bob", password: "password123", roles: ["root"] } });
    assert.equal(unknownRole.status, 400);
    const extraField = await server.call("POST", "/api/v1/users", { token: server.admin.token, body: { username: "bob", password: "password123", roles: ["ci"], isAdmin: true } });
    assert.equal(extraField.status, 400);
    assert.equal(extraField.body.error.code, "validation_failed");
    assert.equal(await server.ctx.db.user.count({ where: { username: { in: ["sneaky", "bob"] } } }), 0);
    const duplicate = await server.call("POST", "/api/v1/users", { token: server.admin.token, body: { username: "admin", password: "password123", roles: ["ci"] } });
    assert.equal(duplicate.status, 409);
  });
});

describe("disabling users and changing roles", () => {
  const idOf = async (username: string) => (await server.ctx.db.user.findUniqueOrThrow({ where: { username } })).id;
  const patch = (id: string, body: unknown, token = server.admin.token) => server.call("PATCH", `/api/v1/users/${id}`, { token, body });

  test("a disabled user's session, API token and password stop working at once, and work again once enabled", async () => {
    const leaver = await server.user(["ci"]);
    const created = await server.call("POST", "/api/v1/tokens", { token: leaver.token, body: { name: "pipeline", roles: ["ci"] } });
    assert.equal(created.status, 201, created.text);
    const id = await idOf(leaver.username);

    const disabled = await patch(id, { disabled: true });
    assert.equal(disabled.status, 200, disabled.text);
    assert.equal(disabled.body.disabled, true);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: leaver.token })).status, 401);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: created.body.token })).status, 401);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { headers: basic(leaver.username, leaver.password) })).status, 401);
    assert.equal((await server.call("POST", "/api/v1/auth/login", { body: { username: leaver.username, password: leaver.password } })).status, 401);

    assert.equal((await patch(id, { disabled: false })).status, 200);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: created.body.token })).status, 200);
    const events = await server.call("GET", `/api/v1/audit?target=${leaver.username}`, { token: server.admin.token });
    const updates = events.body.items.filter((event: { action: string }) => event.action === "user.update").map((event: { details: unknown }) => event.details);
    assert.deepEqual(updates.sort((a: { disabled: boolean }, b: { disabled: boolean }) => Number(a.disabled) - Number(b.disabled)), [{ disabled: false }, { disabled: true }]);
  });

  test("new roles apply to the user's next request", async () => {
    const user = await server.user(["viewer"]);
    const changed = await patch(await idOf(user.username), { roles: ["dba", "viewer"] });
    assert.equal(changed.status, 200, changed.text);
    assert.deepEqual((await server.call("GET", "/api/v1/auth/me", { token: user.token })).body.roles, ["dba", "viewer"]);
  });

  test("the last enabled admin can be neither disabled nor demoted; of two admins disabling each other at once, one wins", async () => {
    const adminId = await idOf("admin");
    for (const body of [{ disabled: true }, { roles: ["viewer"] }]) {
      const refused = await patch(adminId, body);
      assert.equal(refused.status, 409, refused.text);
      assert.equal(refused.body.error.code, "last_admin");
    }
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: server.admin.token })).status, 200, "nothing changed");

    const second = await server.user(["admin"]);
    const secondId = await idOf(second.username);
    const raced = await Promise.all([patch(adminId, { disabled: true }, second.token), patch(secondId, { disabled: true }, server.admin.token)]);
    assert.equal(raced.filter((reply) => reply.status === 200).length, 1, raced.map((reply) => reply.text).join("\n"));
    const enabledAdmins = await server.ctx.db.user.count({ where: { disabled: false, roles: { has: "admin" } } });
    assert.equal(enabledAdmins, 1);
    // Put the fixture's admin back for the tests after this one.
    await server.ctx.db.user.update({ where: { id: adminId }, data: { disabled: false } });
  });

  test("bad input and other roles change nothing", async () => {
    const user = await server.user(["viewer"]);
    const id = await idOf(user.username);
    assert.equal((await patch(id, {})).status, 400);
    assert.equal((await patch(id, { disabled: "yes" })).status, 400);
    assert.equal((await patch(id, { disabled: true, password: "x" })).status, 400);
    assert.equal((await patch(id, { roles: [] })).status, 400);
    assert.equal((await patch(id, { roles: ["root"] })).status, 400);
    assert.equal((await patch("not-a-uuid", { disabled: true })).status, 400);
    assert.equal((await patch("00000000-0000-4000-8000-000000000000", { disabled: true })).status, 404);
    assert.equal((await patch(id, { disabled: true }, user.token)).status, 403);
    assert.equal((await server.call("GET", "/api/v1/auth/me", { token: user.token })).status, 200);
    assert.deepEqual((await server.ctx.db.user.findUniqueOrThrow({ where: { id } })).roles, ["viewer"]);
  });
});

describe("audit", () => {
  test("mutations are audited in a hash chain that detects tampering", async () => {
    await server.user(["dba"], "audited-dba");
    const events = await server.call("GET", "/api/v1/audit?actor=admin", { token: server.admin.token });
    assert.equal(events.status, 200);
    assert.ok(events.body.items.some((e: { action: string; target: string }) => e.action === "user.create" && e.target === "audited-dba"));
    const verified = await server.call("GET", "/api/v1/audit/verify", { token: server.admin.token });
    assert.deepEqual({ ok: verified.body.ok }, { ok: true });
    assert.ok(verified.body.count >= 1);

    const victim = await server.ctx.db.auditEvent.findFirstOrThrow({ where: { target: "audited-dba" } });
    await server.ctx.db.auditEvent.update({ where: { seq: victim.seq }, data: { actor: "someone-else" } });
    const broken = await server.call("GET", "/api/v1/audit/verify", { token: server.admin.token });
    assert.equal(broken.body.ok, false);
    assert.equal(broken.body.brokenAt, String(victim.seq));
    await server.ctx.db.auditEvent.update({ where: { seq: victim.seq }, data: { actor: "admin" } });
    const viewer = await server.user(["viewer"]);
    assert.equal((await server.call("GET", "/api/v1/audit", { token: viewer.token })).status, 403);
  });
});
