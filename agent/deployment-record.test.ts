/**
 * DeploymentRecords: what a restarted online agent does with a deployment the server hands
 * out again, for each point a kill can interrupt it at (the end-to-end cases are in
 * test/e2e/deployment-crash.test.ts; the windows between state.json, the journal's removal
 * and the kept report are too short to hit there on purpose with a real kill).
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { DeploymentRecords } from "./deployment-record.js";
import type { ApplyReport } from "./report.js";
import { emptyState, WorkDir } from "./state.js";

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function workdir(): WorkDir {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-records-"));
  dirs.push(dir);
  return new WorkDir(dir);
}

const release = { product: "shop", version: "2.0", digest: "d".repeat(64) };

describe("deployment records of the online agent", () => {
  it("no record: apply", async () => {
    assert.equal(await new DeploymentRecords(workdir()).earlierOutcome("dep-1"), null);
  });

  it("started but nothing ended (killed before any step, or the history never got the apply): apply", async () => {
    const records = new DeploymentRecords(workdir());
    await records.starting("dep-1");
    assert.equal(await records.earlierOutcome("dep-1"), null);
  });

  it("an interrupted apply (journal present): apply, so the journal recovers and the apply replays", async () => {
    const dir = workdir();
    const records = new DeploymentRecords(dir);
    const applyId = await records.starting("dep-1");
    const state = emptyState();
    state.history.push({ applyId, bundleId: "b", release, result: "succeeded", at: new Date().toISOString() });
    await dir.writeState(state);
    writeFileSync(dir.journalFile, JSON.stringify({ format: "ferry-agent-journal/v1", applyId: "other", steps: [] }));
    assert.equal(await records.earlierOutcome("dep-1"), null);
  });

  it("the apply committed but its report was not kept: its result from the state history, no second apply", async () => {
    const dir = workdir();
    const records = new DeploymentRecords(dir);
    const applyId = await records.starting("dep-1");
    const state = emptyState();
    // A recovery's entry names the interrupted apply, not this one: it does not count.
    state.history.push({ applyId: "interrupted-earlier", bundleId: "b", release, result: "rolled_back", at: new Date().toISOString() });
    await dir.writeState(state);
    assert.equal(await records.earlierOutcome("dep-1"), null);
    state.history.push({ applyId, bundleId: "b", release, result: "succeeded", at: new Date().toISOString() });
    await dir.writeState(state);
    assert.deepEqual(await records.earlierOutcome("dep-1"), { applyId, status: "succeeded", error: undefined, report: undefined });
  });

  it("killed after state.json named the apply, before its journal was removed: ended, no second apply; the clean-up is finished", async () => {
    const dir = workdir();
    const records = new DeploymentRecords(dir);
    const applyId = await records.starting("dep-1");
    const at = new Date().toISOString();
    const journal = { format: "ferry-agent-journal/v1", applyId, bundleId: "b", release, startedAt: at, phase: "committing", agent: { pid: 1, startedAt: at }, steps: [] };
    writeFileSync(dir.journalFile, JSON.stringify(journal));
    mkdirSync(dir.applyDir(applyId), { recursive: true });
    // Committing, but state.json not yet written: the apply was interrupted; roll back and replay.
    assert.equal(await records.earlierOutcome("dep-1"), null);
    assert.ok(existsSync(dir.journalFile));

    const state = emptyState();
    state.release = { ...release, bundleId: "b", applyId, appliedAt: at };
    state.history.push({ applyId, bundleId: "b", release, result: "succeeded", at });
    await dir.writeState(state);
    assert.deepEqual(await records.earlierOutcome("dep-1"), { applyId, status: "succeeded", error: undefined, report: undefined });
    assert.ok(!existsSync(dir.journalFile), "the journal is removed");
    assert.ok(!existsSync(dir.applyDir(applyId)), "the apply's staging is removed");
    assert.ok(!existsSync(dir.lockFile), "the work directory lock is given back");
  });

  it("the report was kept: it is sent again; once delivered the record is gone", async () => {
    const records = new DeploymentRecords(workdir());
    const applyId = await records.starting("dep-1");
    const report = { applyId, result: "rolled_back", startedAt: new Date().toISOString(), error: { code: "step_failed", message: "smoke test failed" }, bundle: { id: "b" } } as unknown as ApplyReport;
    await records.ended("dep-1", applyId, report);
    const outcome = await records.earlierOutcome("dep-1");
    assert.equal(outcome?.status, "rolled_back");
    assert.equal(outcome?.error, "smoke test failed");
    assert.equal(outcome?.report?.applyId, applyId);
    await records.delivered("dep-1");
    assert.equal(await records.earlierOutcome("dep-1"), null);
  });

  it("refuses a deployment id that is not a plain name", async () => {
    await assert.rejects(new DeploymentRecords(workdir()).earlierOutcome("../state"), /unusable deployment id/);
  });
});
