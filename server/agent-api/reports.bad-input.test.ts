/**
 * Tampered and truncated apply reports (issue #7). A real report, written by the real
 * ferry-agent applying a real bundle, is cut, garbled and altered; every variant must be a
 * SPEC §4 4xx that records nothing (no site event, no script history, no installed release,
 * no audit event). The untouched report is imported at the end, proving the variants were
 * refused for what was wrong with them and not for something else.
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { after, before, describe, it } from "node:test";
import type { TestServer, TestUser } from "../../test/support/server.js";
import { assertRefused, rawRequest, type RawResponse } from "../../test/support/raw-http.js";
import { snapshotState, stateChanges } from "../../test/support/state-snapshot.js";
import { createSite, offlineReportWorld, type OfflineReportWorld } from "../deployments/deployments.fixtures.js";

let server: TestServer;
let operator: TestUser;
let siteId: string;
let otherSiteId: string;
let report: any;
let setup: OfflineReportWorld;

before(async () => {
  setup = await offlineReportWorld();
  ({ server, operator, siteId, report } = setup);
  otherSiteId = (await createSite(server, operator, "acme", { name: "bunker-2", connectivity: "offline" })).id;
});
after(() => setup?.close());

function post(body: string | Buffer, contentType = "application/json", id = siteId, extra: Record<string, string> = {}): Promise<RawResponse> {
  return rawRequest(server.url, "POST", `/api/v1/sites/${id}/reports`, {
    headers: { authorization: `Bearer ${operator.token}`, "content-type": contentType, ...extra },
    body,
    timeoutMs: 120_000,
  });
}

async function assertNothingRecorded(label: string, send: () => Promise<RawResponse>, code?: string): Promise<void> {
  const before = await snapshotState(server);
  const response = await send();
  assertRefused(response, "POST", label, code);
  assert.deepEqual(stateChanges(before, await snapshotState(server)), [], `${label}: a refused report recorded something`);
}

/** The report with `change` applied to a copy. */
function tampered(change: (copy: any) => void): any {
  const copy = structuredClone(report);
  change(copy);
  return copy;
}

describe("tampered and truncated reports: 4xx, nothing recorded", () => {
  it("truncated, garbled or empty bodies, as JSON and as a raw file", async () => {
    const text = JSON.stringify(report);
    for (const contentType of ["application/json", "application/octet-stream"]) {
      await assertNothingRecorded(`${contentType} cut in half`, () => post(text.slice(0, Math.floor(text.length / 2)), contentType));
      await assertNothingRecorded(`${contentType} missing its last brace`, () => post(text.slice(0, -1), contentType));
      await assertNothingRecorded(`${contentType} empty`, () => post("", contentType));
      await assertNothingRecorded(`${contentType} an array`, () => post("[]", contentType));
      await assertNothingRecorded(`${contentType} null`, () => post("null", contentType));
      await assertNothingRecorded(`${contentType} a string`, () => post('"report"', contentType));
      await assertNothingRecorded(`${contentType} binary`, () => post(Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x7b]), contentType));
    }
    await assertNothingRecorded("garbage gzip", () => post(Buffer.from("not gzip"), "application/json", siteId, { "content-encoding": "gzip" }));
    await assertNothingRecorded("a gzipped report cut short", () => post(gzipSync(text).subarray(0, 100), "application/json", siteId, { "content-encoding": "gzip" }));
    await assertNothingRecorded("65 MiB raw report", () => post(Buffer.alloc(65 * 1024 * 1024, 0x20), "application/octet-stream"), "payload_too_large");
  });

  it("not a ferry-agent report: wrong format, missing or wrongly typed fields, unknown result", async () => {
    const variants: Array<[string, (r: any) => void]> = [
      ["another format", (r) => (r.format = "ferry-agent-report/v2")],
      ["no applyId", (r) => delete r.applyId],
      ["applyId a number", (r) => (r.applyId = 42)],
      ["applyId of 10,000 characters", (r) => (r.applyId = "a".repeat(10_000))],
      ["unknown result", (r) => (r.result = "pwned")],
      ["inventory a string", (r) => (r.inventory = "everything")],
      ["components not an array", (r) => (r.inventory.components = { hello: "1.0.0" })],
      ["artifact sha256 not hex", (r) => (r.inventory.components[0].artifacts[0].sha256 = "z".repeat(64))],
      ["bundle id not a digest", (r) => (r.bundle.id = "../../etc/passwd")],
      ["history success a string", (r) => (r.databases = [{ component: "hello", database: "orders", dialect: "postgresql", history: [{ version: "1", filename: "V1__a.sql", sha256: "a".repeat(64), success: "yes", installed_on: "2026-01-01" }] }])],
      ["201 databases", (r) => (r.databases = Array.from({ length: 201 }, (_, i) => ({ component: "hello", database: `db${i}`, dialect: "postgresql", history: [] })))],
    ];
    for (const [label, change] of variants) await assertNothingRecorded(label, () => post(JSON.stringify(tampered(change))));
  });

  it("text the database cannot hold: NUL characters, lone surrogates, absurdly long strings", async () => {
    const variants: Array<[string, (r: any) => void]> = [
      ["NUL in applyId", (r) => (r.applyId = "apply\u0000id")],
      ["NUL in a step name", (r) => (r.steps[0] ? (r.steps[0].name = "step\u0000") : r.steps.push({ seq: 1, component: "hello", name: "x\u0000", status: "succeeded" }))],
      ["NUL in the error message", (r) => (r.error = { code: "boom", message: "a\u0000b" })],
      ["NUL in a history filename", (r) => (r.databases = [{ component: "hello", database: "orders", dialect: "postgresql", history: [{ version: "1", filename: "V1__a\u0000.sql", sha256: "a".repeat(64), success: true, installed_on: "2026-01-01T00:00:00Z" }] }])],
      ["lone surrogate in a component", (r) => (r.steps = [{ seq: 1, component: "hel\ud800lo", name: "x", status: "succeeded" }])],
      ["a 5 MB step name", (r) => (r.steps = [{ seq: 1, component: "hello", name: "n".repeat(5 * 1024 * 1024), status: "succeeded" }])],
      ["a 5 MB step status", (r) => (r.steps = [{ seq: 1, component: "hello", name: "x", status: "s".repeat(5 * 1024 * 1024) }])],
      ["a 5 MB startedAt", (r) => (r.startedAt = "t".repeat(5 * 1024 * 1024))],
    ];
    for (const [label, change] of variants) await assertNothingRecorded(label, () => post(JSON.stringify(tampered(change)), "application/octet-stream"));
  });

  it("tampered reports: another site, an unknown bundle, another release, versions and checksums that do not match", async () => {
    const variants: Array<[string, (r: any) => void, string, string?]> = [
      ["sent to another site", () => {}, "report_site_mismatch", otherSiteId],
      ["claims another site", (r) => (r.bundle.site.id = otherSiteId), "report_site_mismatch"],
      ["an unknown bundle", (r) => (r.bundle.id = "f".repeat(64)), "unknown_bundle"],
      ["another release version", (r) => (r.bundle.release.version = "9.9.9"), "report_mismatch"],
      ["another release digest", (r) => (r.bundle.release.digest = "0".repeat(64)), "report_mismatch"],
      ["a component at another version", (r) => (r.inventory.components[0].version = "0.0.1"), "report_mismatch"],
      ["a shipped artifact with another checksum", (r) => (r.inventory.components[0].artifacts[0].sha256 = "0".repeat(64)), "report_mismatch"],
      ["a component missing from the inventory", (r) => (r.inventory.components = []), "report_mismatch"],
      ["succeeded without a bundle", (r) => (r.bundle = null), "invalid_report"],
      ["a dry run", (r) => (r.result = "dry_run"), "dry_run_report"],
    ];
    for (const [label, change, code, target] of variants) {
      await assertNothingRecorded(label, () => post(JSON.stringify(tampered(change)), "application/json", target ?? siteId), code);
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    await assertNothingRecorded("a __proto__ key", () => post(`{"__proto__":{"polluted":true},${JSON.stringify(tampered((r) => (r.format = "x"))).slice(1)}`));
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("a report with a long database history imports in one piece", { timeout: 300_000 }, async () => {
    // Flyway histories of old systems run to thousands of rows; one upsert each in one
    // interactive transaction outlived the transaction's timeout.
    const history = Array.from({ length: 5000 }, (_, i) => ({
      installed_rank: i + 1,
      version: `1.0.${i}`,
      description: `step ${i}`,
      type: "SQL",
      filename: `V1.0.${i}__step_${i}.sql`,
      sha256: "c".repeat(64),
      installed_on: "2026-01-02T03:04:05.000Z",
      success: true,
    }));
    const big = tampered((r) => {
      r.applyId = `${r.applyId}-history`;
      r.databases = [{ component: "hello", database: "orders", dialect: "postgresql", history }];
    });
    const response = await post(JSON.stringify(big), "application/octet-stream");
    assert.equal(response.status, 201, response.text.slice(0, 500));
    assert.equal(response.body.scripts, 5000);
    assert.equal(await server.ctx.db.siteScript.count({ where: { siteId } }), 5000);
  });

  it("the untouched report still imports", async () => {
    const response = await post(JSON.stringify(report));
    assert.equal(response.status, 201, response.text);
    assert.equal(response.body.installed.version, "1.0.0");
  });
});
