/**
 * GET /users and GET /tokens page with keyset cursors: a walk in small pages sees every row
 * exactly once (also with rows sharing a creation time, and with rows added mid-walk), and
 * a cursor the server did not return is 400.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { assertCursorsRefused, assertEachOnce, BAD_NAME_CURSORS, BAD_TIME_ID_CURSORS, walkPages } from "../../test/support/paging.js";

let server: TestServer;
let alice: TestUser;
let bob: TestUser;
before(async () => {
  server = await startTestServer();
  alice = await server.user(["ci", "viewer"], "alice");
  bob = await server.user(["viewer"], "bob");
  for (const name of ["carol", "dave", "erin", "frank", "grace"]) await server.user(["viewer"], name);
});
after(async () => {
  await server?.close();
});

async function createTokens(user: TestUser, prefix: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await server.call("POST", "/api/v1/tokens", { token: user.token, body: { name: `${prefix}-${i}`, roles: ["viewer"] } });
    assert.equal(created.status, 201, created.text);
    ids.push(created.body.id);
  }
  return ids;
}

describe("users list paging", () => {
  test("pages of 2 walk every user once, by username", async () => {
    const expected = (await server.ctx.db.user.findMany({ select: { username: true } })).map((u) => u.username);
    assert.ok(expected.length >= 8);
    const seen = await walkPages(server, server.admin.token, "/api/v1/users", { limit: 2 });
    const names = seen.map((u) => u.username as string);
    assertEachOnce(names, expected, "users");
    assert.deepEqual(names, [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)), "ordered by username");
    assert.equal(seen[0].passwordHash, undefined, "the presenter still hides the hash");
  });

  test("without a limit the first page holds up to 100 and says where it ends", async () => {
    const page = await server.call("GET", "/api/v1/users", { token: server.admin.token });
    assert.equal(page.status, 200);
    assert.equal(page.body.nextCursor, null);
    assert.equal(page.body.items.length, await server.ctx.db.user.count());
  });

  test("a cursor the server did not return, or a bad limit, is 400", async () => {
    await assertCursorsRefused(server, server.admin.token, "/api/v1/users", BAD_NAME_CURSORS);
    for (const limit of ["0", "501", "x"]) assert.equal((await server.call("GET", `/api/v1/users?limit=${limit}`, { token: server.admin.token })).status, 400);
  });
});

describe("tokens list paging", () => {
  test("an owner's walk sees each of their tokens once, newest first, ties on creation time included", async () => {
    const ids = await createTokens(alice, "alice", 7);
    // Three tokens created in the same millisecond: the id breaks the tie.
    const sameTime = new Date(Date.now() - 60_000);
    await server.ctx.db.apiToken.updateMany({ where: { id: { in: ids.slice(2, 5) } }, data: { createdAt: sameTime } });
    const seen = await walkPages(server, alice.token, "/api/v1/tokens", { limit: 2 });
    assertEachOnce(
      seen.map((t) => t.id),
      ids,
      "alice's tokens",
    );
    const keys = seen.map((t) => `${t.createdAt}|${t.id}`);
    assert.deepEqual(keys, [...keys].sort().reverse(), "newest first, then by id");
  });

  test("tokens created during a walk neither repeat nor hide the others", async () => {
    const ids = await createTokens(bob, "bob", 5);
    const added: string[] = [];
    const seen = await walkPages(server, bob.token, "/api/v1/tokens", {
      limit: 2,
      between: async () => void added.push(...(await createTokens(bob, "bob-mid", 1))),
    });
    const seenIds = seen.map((t) => t.id as string);
    assertEachOnce(
      seenIds.filter((id) => !added.includes(id)),
      ids,
      "bob's tokens",
    );
    assert.equal(new Set(seenIds).size, seenIds.length, "no token twice");
  });

  test("an admin's ?all=true walk sees everyone's tokens once; a non-admin's stays their own", async () => {
    const expected = (await server.ctx.db.apiToken.findMany({ select: { id: true } })).map((t) => t.id);
    const all = await walkPages(server, server.admin.token, "/api/v1/tokens?all=true", { limit: 3 });
    assertEachOnce(
      all.map((t) => t.id),
      expected,
      "all tokens",
    );
    assert.ok(all.every((t) => typeof t.owner === "string"));
    const own = await walkPages(server, bob.token, "/api/v1/tokens?all=true", { limit: 3 });
    assert.ok(own.length > 0 && own.every((t) => t.owner === "bob"));
  });

  test("a cursor the server did not return is 400", async () => {
    await assertCursorsRefused(server, alice.token, "/api/v1/tokens", BAD_TIME_ID_CURSORS);
    await assertCursorsRefused(server, alice.token, "/api/v1/tokens", ["x".repeat(301)]);
  });
});
