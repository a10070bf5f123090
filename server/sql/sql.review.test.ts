import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { startTestServer, type TestServer, type TestUser } from "../../test/support/server.js";
import { AppError } from "../errors.js";
import { findUnapprovedScripts } from "./sql.approval.js";
import { parseSqlUploadMeta } from "./sql.upload.js";

const RISKY = "CREATE TABLE orders (id bigint PRIMARY KEY);\nDELETE FROM orders;\n";

describe("SQL review API", () => {
  let server: TestServer;
  let uploader: TestUser; // ci and dba: only the four-eyes rule stops it approving
  let dba: TestUser;
  let viewer: TestUser;

  const upload = (user: TestUser, path: string, body: string, headers: Record<string, string> = {}) =>
    server.call("PUT", `/api/v1/artifacts/${path}`, { token: user.token, body, headers: { "content-type": "application/octet-stream", ...headers } });
  const sqlHeaders = { "X-Artifact-Kind": "sql", "X-Sql-Database": "orders", "X-Sql-Dialect": "postgresql" };

  before(async () => {
    server = await startTestServer();
    uploader = await server.user(["ci", "dba"]);
    dba = await server.user(["dba"]);
    viewer = await server.user(["viewer"]);
    // A subscriber, so the events the review emits are recorded as deliveries.
    const hook = await server.call("POST", "/api/v1/webhooks", {
      token: server.admin.token,
      body: { url: "http://127.0.0.1:9/hook", events: ["sql.submitted", "sql.approved", "sql.rejected"] },
    });
    assert.equal(hook.status, 201, hook.text);
  });
  after(() => server?.close());

  test("an uploaded script waits in the queue with its findings; only another dba decides", async () => {
    const put = await upload(uploader, "backend/1.0.0/V1.0.0.1__create_orders.sql", RISKY, sqlHeaders);
    assert.equal(put.status, 201, put.text);
    const sha256 = createHash("sha256").update(RISKY).digest("hex");

    const queue = await server.call("GET", "/api/v1/sql-scripts?status=pending&component=backend", { token: viewer.token });
    assert.equal(queue.status, 200, queue.text);
    assert.equal(queue.body.items.length, 1);
    const listed = queue.body.items[0];
    assert.equal(listed.filename, "V1.0.0.1__create_orders.sql");
    assert.deepEqual([listed.database, listed.dialect, listed.type, listed.orderVersion, listed.description], ["orders", "postgresql", "upgrade", "1.0.0.1", "create orders"]);
    assert.deepEqual(listed.findings.map((f: { rule: string }) => f.rule), ["non_idempotent_ddl", "delete_without_where"]);
    const id = listed.id as string;

    const gate = () => server.ctx.sql.assertApproved([{ name: "backend", version: "1.0.0" }]);
    await assert.rejects(gate(), (error: unknown) => {
      assert.ok(error instanceof AppError && error.status === 409 && error.code === "unapproved_sql");
      assert.deepEqual(error.details, { scripts: [{ id, component: "backend", version: "1.0.0", filename: "V1.0.0.1__create_orders.sql", database: "orders", status: "pending" }] });
      return true;
    });

    const review = (user: TestUser, body: unknown) => server.call("POST", `/api/v1/sql-scripts/${id}/review`, { token: user.token, body });
    const own = await review(uploader, { decision: "approve" });
    assert.equal(own.status, 403);
    assert.equal(own.body.error.code, "four_eyes");
    assert.equal((await review(viewer, { decision: "approve" })).status, 403);
    assert.equal((await review(server.admin, { decision: "approve" })).status, 403, "admin is not implicitly a dba");
    const bare = await review(dba, { decision: "reject", comment: "  " });
    assert.equal(bare.status, 400);
    assert.equal(bare.body.error.code, "comment_required");
    assert.equal((await review(dba, { decision: "maybe" })).status, 400);
    assert.equal((await server.call("GET", `/api/v1/sql-scripts/${id}`, { token: viewer.token })).body.status, "pending", "refused reviews change nothing");

    const rejected = await review(dba, { decision: "reject", comment: "DELETE without WHERE empties orders" });
    assert.equal(rejected.status, 200, rejected.text);
    assert.equal(rejected.body.status, "rejected");
    await assert.rejects(gate(), /unapproved_sql|need DBA approval/);

    const approved = await review(dba, { decision: "approve", comment: "intended: fresh table" });
    assert.equal(approved.status, 200, approved.text);
    assert.equal(approved.body.status, "approved");
    assert.equal(approved.body.approvedSha256, sha256);
    await gate();

    const detail = await server.call("GET", `/api/v1/sql-scripts/${id}`, { token: viewer.token });
    assert.equal(detail.status, 200);
    assert.equal(detail.body.content, RISKY);
    assert.deepEqual(
      detail.body.reviews.map((r: { reviewer: string; decision: string; sha256: string }) => [r.reviewer, r.decision, r.sha256]),
      [[dba.username, "reject", sha256], [dba.username, "approve", sha256]],
    );
    assert.equal((await server.call("GET", "/api/v1/sql-scripts?status=pending", { token: viewer.token })).body.items.length, 0);
    assert.equal((await server.call("GET", "/api/v1/sql-scripts?status=approved", { token: viewer.token })).body.items.length, 1);

    const deliveries = await server.ctx.db.webhookDelivery.findMany({ orderBy: { createdAt: "asc" } });
    const events = deliveries.filter((d) => (d.payload as { id?: string }).id === id).map((d) => [d.event, (d.payload as { status: string }).status]);
    assert.deepEqual(events, [["sql.submitted", "pending"], ["sql.rejected", "rejected"], ["sql.approved", "approved"]]);

    const audit = await server.call("GET", `/api/v1/audit?target=${id}`, { token: server.admin.token });
    assert.deepEqual(audit.body.items.map((e: { action: string }) => e.action), ["sql.review", "sql.review"]);
  });

  test("an order version belongs to one script per database; a new component version carries it on and needs its own approval", async () => {
    const first = await upload(uploader, "billing/1.0/V5__fees.sql", "CREATE TABLE IF NOT EXISTS fees (id int);", { ...sqlHeaders, "X-Sql-Database": "billing" });
    assert.equal(first.status, 201, first.text);
    const clash = await upload(uploader, "billing/1.0/V5__other.sql", "SELECT 1;", { ...sqlHeaders, "X-Sql-Database": "billing" });
    assert.equal(clash.status, 409, clash.text);
    assert.equal(clash.body.error.code, "order_version_taken");
    // Nothing of the refused upload was kept.
    assert.equal((await server.call("GET", "/api/v1/artifacts/billing/1.0/V5__other.sql", { token: viewer.token })).status, 404);

    const next = await upload(uploader, "billing/1.1/V5__fees.sql", "CREATE TABLE IF NOT EXISTS fees (id bigint);", { ...sqlHeaders, "X-Sql-Database": "billing" });
    assert.equal(next.status, 201, next.text);
    const page = await server.call("GET", "/api/v1/sql-scripts?component=billing&database=billing", { token: viewer.token });
    const newest = page.body.items[0];
    assert.equal(newest.version, "1.1");
    assert.equal(newest.findings[0].rule, "changed_after_release");
    const detail = await server.call("GET", `/api/v1/sql-scripts/${newest.id}`, { token: viewer.token });
    assert.deepEqual(detail.body.previousVersions.map((v: { version: string; sameContent: boolean }) => [v.version, v.sameContent]), [["1.0", false]]);

    const missing = await upload(uploader, "billing/1.1/V6__x.sql", "SELECT 1;", { "X-Artifact-Kind": "sql", "X-Sql-Dialect": "postgresql" });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.code, "sql_database_required");
  });

  test("an approval pinned to other content than the artifact holds does not count", async () => {
    const content = "UPDATE accounts SET active = true WHERE id = 1;";
    const blob = await server.ctx.blobs.put(Readable.from([Buffer.from(content)]));
    const meta = parseSqlUploadMeta("V2__activate.sql", { database: "accounts", dialect: "mysql" });
    const findings = await server.ctx.sql.lint(blob.sha256, meta.dialect);
    assert.deepEqual(findings, []);
    const script = await server.ctx.db.$transaction(async (tx) => {
      const artifact = await tx.artifact.create({
        data: { component: "accounts", version: "2.0", filename: "V2__activate.sql", kind: "sql", sha256: blob.sha256, size: blob.size, uploadedBy: uploader.username },
      });
      return server.ctx.sql.createForArtifact(tx, artifact, meta, findings, uploader.username);
    });
    const approve = await server.call("POST", `/api/v1/sql-scripts/${script.id}/review`, { token: dba.token, body: { decision: "approve" } });
    assert.equal(approve.status, 200, approve.text);
    assert.deepEqual(await findUnapprovedScripts(server.ctx.db, [{ name: "accounts", version: "2.0" }]), []);

    await server.ctx.db.sqlScript.update({ where: { id: script.id }, data: { approvedSha256: "0".repeat(64) } });
    const unapproved = await findUnapprovedScripts(server.ctx.db, [{ name: "accounts", version: "2.0" }]);
    assert.deepEqual(unapproved.map((s) => [s.filename, s.status]), [["V2__activate.sql", "modified"]]);
  });

  test("unknown scripts and bad queries are clear 4xx", async () => {
    assert.equal((await server.call("GET", "/api/v1/sql-scripts/nope", { token: viewer.token })).status, 404);
    assert.equal((await server.call("POST", "/api/v1/sql-scripts/nope/review", { token: dba.token, body: { decision: "approve" } })).status, 404);
    assert.equal((await server.call("GET", "/api/v1/sql-scripts?status=maybe", { token: viewer.token })).status, 400);
    assert.equal((await server.call("GET", "/api/v1/sql-scripts?colour=red", { token: viewer.token })).status, 400);
    assert.equal((await server.call("GET", "/api/v1/sql-scripts")).status, 401);
  });
});
