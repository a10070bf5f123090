/**
 * The stall watchdog's rules against a real database (the end-to-end run with real agent
 * processes is test/e2e/deployment-stall.test.ts): nothing is flagged before the watchdog
 * has listened for the whole stall time; only running agent deployments silent for longer
 * are flagged; of several watchdogs exactly one flags a deployment; an agent's contact
 * clears the flag once; a stopped watchdog flags nothing.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { createSite, writeHelloCatalog } from "./deployments.fixtures.js";
import { Notifier } from "./deployments.notifier.js";
import { StallWatchdog } from "./deployments.watchdog.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-watchdog-"));
let server: TestServer;
let siteIds: string[];

before(async () => {
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: writeHelloCatalog(dir) } });
  const operator = await server.user(["operator"]);
  siteIds = [];
  for (const name of ["w-1", "w-2", "w-3", "w-4"]) siteIds.push((await createSite(server, operator, "watch", { name, connectivity: "agent" })).id);
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const stallMs = () => server.ctx.config.FERRY_AGENT_STALL_MS;
const watchdog = () => new StallWatchdog(server.ctx, new Notifier());

async function deploymentRow(siteId: string, data: { status: string; transport: string; lastContactAt: Date | null }) {
  return server.ctx.db.deployment.create({
    data: { siteId, product: "hello-suite", version: "1.0.0", kind: "install", createdBy: "test", ...data },
  });
}

describe("stall watchdog", () => {
  it("flags only running agent deployments silent past the stall time, once across watchdogs, and only after listening that long", async () => {
    const longAgo = new Date(Date.now() - 10 * stallMs());
    // Scans below run at `later`, two stall times from now, as if that much time had passed.
    const later = new Date(Date.now() + 2 * stallMs());
    const silent = await deploymentRow(siteIds[0]!, { status: "running", transport: "agent", lastContactAt: longAgo });
    const recent = await deploymentRow(siteIds[1]!, { status: "running", transport: "agent", lastContactAt: new Date(later.getTime() - stallMs() / 2) });
    const ssh = await deploymentRow(siteIds[2]!, { status: "running", transport: "ssh", lastContactAt: longAgo });
    const queued = await deploymentRow(siteIds[3]!, { status: "queued", transport: "agent", lastContactAt: null });

    const first = watchdog();
    const second = watchdog();
    assert.deepEqual(await first.scan(), [], "not started: not listening");
    first.start();
    second.start();
    try {
      assert.deepEqual(await first.scan(), [], "just started: silence before the start is not the agent's");
      const flagged = await Promise.all([first.scan(later), second.scan(later)]);
      assert.deepEqual(flagged.flat(), [silent.id], `exactly one watchdog flags it: ${JSON.stringify(flagged)}`);
      assert.deepEqual(await first.scan(later), [], "flagged once");
    } finally {
      await first.stop();
      await second.stop();
    }
    const rows = await server.ctx.db.deployment.findMany({ where: { id: { in: [silent.id, recent.id, ssh.id, queued.id] } } });
    const stalled = rows.filter((row) => row.stalledAt !== null).map((row) => row.id);
    assert.deepEqual(stalled, [silent.id]);
    assert.equal(rows.find((row) => row.id === silent.id)!.status, "running", "flagged, not ended");
    const history = await server.ctx.db.siteEvent.findMany({ where: { deploymentId: silent.id, kind: "deployment-stalled" } });
    assert.equal(history.length, 1);
    const logs = await server.ctx.db.deploymentLog.findMany({ where: { deploymentId: silent.id } });
    assert.equal(logs.filter((log) => log.line.startsWith("no word from the site's agent")).length, 1);

    // The agent reports again: the flag clears once, with one log line, and last contact moves.
    await server.ctx.deployments.progress.agentContact(silent.id, rows.find((row) => row.id === silent.id)!.stalledAt);
    await server.ctx.deployments.progress.agentContact(silent.id, rows.find((row) => row.id === silent.id)!.stalledAt);
    const back = await server.ctx.db.deployment.findUniqueOrThrow({ where: { id: silent.id } });
    assert.equal(back.stalledAt, null);
    assert.ok(back.lastContactAt!.getTime() > longAgo.getTime());
    const backLines = await server.ctx.db.deploymentLog.findMany({ where: { deploymentId: silent.id, line: { startsWith: "the agent reported again" } } });
    assert.equal(backLines.length, 1);

    // Stopped: nothing is flagged however long the silence.
    const stopped = watchdog();
    stopped.start();
    await stopped.stop();
    await server.ctx.db.deployment.update({ where: { id: recent.id }, data: { lastContactAt: longAgo } });
    assert.deepEqual(await stopped.scan(new Date(Date.now() + 10 * stallMs())), []);
  });
});
