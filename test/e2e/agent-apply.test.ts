/**
 * The site agent applying bundles offline, with real parts: signed bundle folders laid out
 * per SPEC §5, a real PostgreSQL database per test standing in for the customer's, a real
 * HTTP service started by a `run` step and probed by a `healthcheck`, and `kill -9` of the
 * real agent process.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { dump } from "js-yaml";
import { applyBundle, type ApplyOptions } from "../../agent/apply.js";
import { processState } from "../../agent/process-id.js";
import { statusCommand } from "../../agent/status.js";
import { bundleA, bundleB, customerDatabase, freePort, SCRIPTS, stopShop } from "../support/agent-shop.js";
import { buildBundleDir, packBundle, signingKeys, type SigningKeys } from "../support/bundle-fixture.js";
import { until } from "../support/until.js";

interface World {
  dir: string;
  workdir: string;
  root: string;
  port: number;
  keys: SigningKeys;
  db: Awaited<ReturnType<typeof customerDatabase>>;
  varsFile: string;
  lines: string[];
  apply(bundle: string, extra?: Partial<ApplyOptions>): ReturnType<typeof applyBundle>;
  health(): Promise<{ version: string; greeting: string } | null>;
}

let world: World;
const worlds: World[] = [];

beforeEach(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-agent-"));
  const db = await customerDatabase();
  const port = await freePort();
  const root = path.join(dir, "opt");
  const varsFile = path.join(dir, "site-vars.yml");
  writeFileSync(varsFile, dump({ vars: { INSTALL_ROOT: root, HTTP_PORT: port }, components: { shop: { SHOP_DB_URL: db.url, API_SECRET: "s3cret-token-value", GREETING: "welcome" } } }));
  const lines: string[] = [];
  world = {
    dir,
    workdir: path.join(dir, "work"),
    root,
    port,
    keys: signingKeys(dir),
    db,
    varsFile,
    lines,
    apply: (bundle, extra = {}) =>
      applyBundle({ bundle, workdir: path.join(dir, "work"), varsFile, keyFile: world.keys.publicKeyFile, reportFile: path.join(dir, "report.json"), out: (line) => void lines.push(line), ...extra }),
    // A service restarted by a rollback may take a moment to listen again: poll for up to 5 s.
    async health() {
      for (let attempt = 0; attempt < 25; attempt++) {
        const response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
        if (response?.ok) return (await response.json()) as { version: string; greeting: string };
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      return null;
    },
  };
  worlds.push(world);
});

afterEach(async () => {
  stopShop(world.root);
  await world.db.drop();
  rmSync(world.dir, { recursive: true, force: true });
});

after(() => worlds.forEach((w) => stopShop(w.root)));

const readReport = () => JSON.parse(readFileSync(path.join(world.dir, "report.json"), "utf8"));
const bundleDir = (name: string, spec: Parameters<typeof buildBundleDir>[2]) => buildBundleDir(path.join(world.dir, name), world.keys, spec);
const history = () => world.db.query("SELECT version, type, filename, sha256, success FROM ferry_schema_history ORDER BY installed_rank");

async function installA() {
  const report = await world.apply(bundleDir("a", bundleA()));
  assert.equal(report.result, "succeeded", JSON.stringify(report.error));
  return report;
}

describe("ferry-agent apply", () => {
  it("installs release A on a fresh work directory: files, rendered config, SQL recorded, healthy service, report", async () => {
    const report = await installA();
    const current = path.join(world.root, "shop", "current");
    assert.equal(readFileSync(path.join(current, "VERSION"), "utf8"), "1.0\n");
    const config = readFileSync(path.join(world.root, "shop", "app.properties"), "utf8");
    assert.equal(config, `port=${world.port}\ngreeting=welcome from plant\nrelease=1.0\nsecret=s3cret-token-value\n`);
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" });
    assert.deepEqual(await world.db.query("SELECT item FROM orders"), [{ item: "first" }]);
    const rows = await history();
    assert.equal(rows.length, 1);
    assert.equal(rows[0].filename, "V1__orders.sql");
    assert.equal(rows[0].success, true);

    const saved = readReport();
    assert.equal(saved.format, "ferry-agent-report/v1");
    assert.equal(saved.result, "succeeded");
    assert.equal(saved.bundle.release.version, "1.0");
    assert.ok(saved.steps.every((s: { status: string }) => s.status === "succeeded"));
    assert.deepEqual(saved.steps.map((s: { name: string }) => s.name).slice(0, 3), ["stage shop 1.0", "unpack shop 1.0", "point current"]);
    const shop = saved.inventory.components.find((c: { name: string }) => c.name === "shop");
    assert.equal(shop.version, "1.0");
    assert.ok(shop.files.some((f: { path: string }) => f.path.endsWith("releases/1.0/bin/server.mjs")));
    assert.equal(saved.databases[0].history[0].filename, "V1__orders.sql");
    // The secret never reaches the report or the log.
    assert.ok(!JSON.stringify(saved).includes("s3cret-token-value"));
    assert.ok(!world.lines.join("").includes("s3cret-token-value"));
    assert.equal(report.result, "succeeded");
    // JSON lines with timestamps on stdout.
    const events = world.lines.map((line) => JSON.parse(line));
    assert.ok(events.every((e) => typeof e.ts === "string"));
    assert.ok(events.some((e) => e.event === "step" && e.step === "wait for /health" && e.status === "succeeded"));
    const status = await statusCommand(world.workdir, false);
    assert.match(status, /release: shop-suite 1\.0/);
    assert.match(status, /shop 1\.0: 1 artifact\(s\)/);
  });

  it("upgrades A→B incrementally, applying only the new script; a tar.gz bundle works the same", async () => {
    await installA();
    const tar = packBundle(bundleDir("b", bundleB()), path.join(world.dir, "b.tar.gz"));
    const report = await world.apply(tar);
    assert.equal(report.result, "succeeded", JSON.stringify(report.error));
    assert.deepEqual(await world.health(), { version: "2.0", greeting: "welcome from plant" });
    assert.deepEqual((await history()).map((r) => r.filename), ["V1__orders.sql", "V2__add_status.sql"]);
    assert.deepEqual(await world.db.query("SELECT item, status FROM orders"), [{ item: "first", status: "new" }]);
    const state = JSON.parse(readFileSync(path.join(world.workdir, "state.json"), "utf8"));
    assert.equal(state.release.version, "2.0");
    assert.equal(state.components.shop.version, "2.0");
    const applied = world.lines.filter((l) => l.includes('"message":"applied '));
    assert.equal(applied.length, 2, "V1 by A, then only V2 by B");
    assert.match(applied[1]!, /applied V2__add_status\.sql/);
    assert.ok(!existsSync(path.join(world.workdir, "journal.json")));
    assert.ok(!existsSync(path.join(world.workdir, "applies", report.applyId)), "staging is removed");
  });

  it("rolls a failing upgrade back to a working A and reports rolled_back", async () => {
    await installA();
    const configBefore = readFileSync(path.join(world.root, "shop", "app.properties"), "utf8");
    const report = await world.apply(bundleDir("b", bundleB({ failing: true })));
    assert.equal(report.result, "rolled_back");
    assert.match(report.error!.message, /smoke test.*exit|status 3/);
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" });
    assert.equal(readFileSync(path.join(world.root, "shop", "app.properties"), "utf8"), configBefore);
    assert.equal(readFileSync(path.join(world.root, "shop", "current", "VERSION"), "utf8"), "1.0\n");
    assert.ok(!existsSync(path.join(world.root, "shop", "releases", "2.0")), "B's unpacked folder is gone");
    // V2 ran and was undone by its U2 script; both are in the history.
    assert.deepEqual((await history()).map((r) => `${r.type} ${r.filename}`), ["upgrade V1__orders.sql", "upgrade V2__add_status.sql", "undo U2__add_status.sql"]);
    assert.deepEqual(await world.db.query("SELECT * FROM orders"), [{ id: 1, item: "first" }]);
    const saved = readReport();
    assert.equal(saved.result, "rolled_back");
    assert.equal(saved.steps.find((s: { name: string }) => s.name === "smoke test").status, "rolled_back");
    assert.equal(saved.inventory.release.version, "1.0");
    const state = JSON.parse(readFileSync(path.join(world.workdir, "state.json"), "utf8"));
    assert.equal(state.release.version, "1.0");
    assert.equal(state.history.at(-1).result, "rolled_back");
  });

  it("refuses a tampered bundle before touching anything", async () => {
    await installA();
    const stateBefore = readFileSync(path.join(world.workdir, "state.json"), "utf8");
    const dir = bundleDir("b", bundleB());
    const artifact = path.join(dir, "artifacts", "shop", "2.0", "shop-2.0.tar.gz");
    const bytes = readFileSync(artifact);
    bytes[100] = bytes[100]! ^ 0x01;
    writeFileSync(artifact, bytes);
    const report = await world.apply(dir);
    assert.equal(report.result, "verify_failed");
    assert.match(report.error!.message, /shop-2\.0\.tar\.gz.*does not match/);
    assert.equal(readFileSync(path.join(world.workdir, "state.json"), "utf8"), stateBefore);
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" });
    assert.ok(!existsSync(path.join(world.root, "shop", "releases", "2.0")));
    assert.equal((await history()).length, 1);

    // A re-signed manifest with another key fails the signature check too.
    const forged = buildBundleDir(path.join(world.dir, "forged"), signingKeys(mkdtempSync(path.join(world.dir, "k-"))), bundleB());
    const forgedReport = await world.apply(forged);
    assert.equal(forgedReport.result, "verify_failed");
    assert.match(forgedReport.error!.message, /signature|does not verify/);
  });

  it("refuses a script whose recorded checksum differs, and rolls back", async () => {
    await installA();
    const changedV1 = { ...SCRIPTS.v1, content: `${SCRIPTS.v1.content}-- edited after it ran\n` };
    const report = await world.apply(bundleDir("b", bundleB({ scripts: [changedV1, SCRIPTS.v2] })));
    assert.equal(report.result, "rolled_back");
    assert.equal(report.steps.find((s) => s.type === "sql")!.status, "rolled_back");
    assert.match(report.error!.message, /already applied with other content: V1__orders\.sql/);
    assert.deepEqual((await history()).map((r) => r.filename), ["V1__orders.sql"], "V2 never ran");
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" });
  });

  it("stops an incremental upgrade on a drifted site with a report, and --force proceeds", async () => {
    await installA();
    const tampered = path.join(world.root, "shop", "releases", "1.0", "lib", "data.txt");
    writeFileSync(tampered, "hand-edited at the site\n");
    const dir = bundleDir("b", bundleB());
    const report = await world.apply(dir);
    assert.equal(report.result, "drift");
    assert.equal(report.drift.length, 1);
    assert.deepEqual({ ...report.drift[0], expected: undefined, found: undefined }, { kind: "file_changed", component: "shop", path: tampered, expected: undefined, found: undefined });
    assert.match(report.error!.message, /differs from what the bundle expects.*--force/);
    assert.equal(readReport().drift.length, 1);
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" }, "nothing was stopped");
    assert.equal((await history()).length, 1);

    const forced = await world.apply(dir, { force: true });
    assert.equal(forced.result, "succeeded", JSON.stringify(forced.error));
    assert.equal(forced.forced, true);
    assert.deepEqual(await world.health(), { version: "2.0", greeting: "welcome from plant" });
  });

  it("plans without changing anything on --dry-run", async () => {
    await installA();
    const report = await world.apply(bundleDir("b", bundleB()), { dryRun: true });
    assert.equal(report.result, "dry_run");
    const plan = world.lines.map((l) => JSON.parse(l)).find((e) => e.event === "plan");
    assert.equal(plan.components[0].action, "upgrade");
    assert.deepEqual(plan.components[0].steps.map((s: { type: string }) => s.type), ["run", "extract", "run", "template", "sql", "run", "healthcheck"]);
    assert.deepEqual(await world.health(), { version: "1.0", greeting: "welcome from plant" });
    assert.equal(JSON.parse(readFileSync(path.join(world.workdir, "state.json"), "utf8")).release.version, "1.0");
  });

  it("after kill -9 mid-apply, a re-run rolls the half-applied upgrade back and applies it whole", async () => {
    await installA();
    const marker = path.join(world.dir, "slow-marker");
    const dir = bundleDir("b", bundleB({ slowMarker: marker }));
    const agent = path.resolve("bin/ferry-agent.js");
    const child = spawn(process.execPath, [agent, "apply", dir, "--workdir", world.workdir, "--vars", world.varsFile, "--key", world.keys.publicKeyFile], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        if (!output.includes('"step":"slow data migration"')) return;
        // The step has started; wait until its command is sleeping, then kill the agent mid-step.
        const poll = setInterval(() => {
          if (!existsSync(`${marker}.pid`)) return;
          clearInterval(poll);
          resolve();
        }, 50);
      });
      child.once("exit", () => reject(new Error(`agent exited early:\n${output}`)));
    });
    child.kill("SIGKILL");
    await new Promise((resolve) => child.once("close", resolve));
    assert.ok(!output.includes('"status":"succeeded","seq":9'), "killed while the slow step ran");
    const sleeper = Number(readFileSync(`${marker}.pid`, "utf8"));
    assert.ok(existsSync(path.join(world.workdir, "journal.json")), "the journal shows an interrupted apply");
    assert.match(await statusCommand(world.workdir, false), /INTERRUPTED apply/);
    assert.equal((await history()).length, 2, "V2 had been applied before the kill");

    const report = await world.apply(dir);
    assert.equal(report.result, "succeeded", JSON.stringify(report.error));
    assert.equal(report.recovered?.result, "rolled_back");
    // SIGKILL is delivered at once, but the orphan is reaped by init when init gets to it: gone or a zombie both mean stopped.
    await until("the interrupted step's process group was stopped", () => [null, "Z"].includes(processState(sleeper)), 10_000);
    assert.deepEqual(await world.health(), { version: "2.0", greeting: "welcome from plant" });
    // V2 was undone by recovery and applied again: nothing lost, nothing doubled.
    assert.deepEqual((await history()).map((r) => `${r.type} ${r.filename}`), ["upgrade V1__orders.sql", "upgrade V2__add_status.sql", "undo U2__add_status.sql", "upgrade V2__add_status.sql"]);
    assert.deepEqual(await world.db.query("SELECT item, status FROM orders"), [{ item: "first", status: "new" }]);
    const state = JSON.parse(readFileSync(path.join(world.workdir, "state.json"), "utf8"));
    assert.equal(state.release.version, "2.0");
    assert.ok(!existsSync(path.join(world.workdir, "journal.json")));
    assert.deepEqual(readFileSync(path.join(world.root, "shop", "current", "VERSION"), "utf8"), "2.0\n");
  });
});
