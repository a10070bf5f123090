/**
 * The site agent bundles carry, as a compiled server (`npm start`, the image) serves it:
 * `npm run build` writes dist/ferry-agent.mjs, byte for byte what bundling agent/ at run
 * time gives (so a bundle is the same whichever kind of process built it), and a compiled
 * server puts that file into its bundles without running esbuild (no ~0.3 s before the
 * first bundle, no esbuild service process of ~60 MiB left beside it).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { bundleFromSources } from "../../server/bundles/bundles.agent.js";
import { createSite, publishHello, writeHelloCatalog } from "../../server/deployments/deployments.fixtures.js";
import { bundleWorld } from "../support/bundles.js";
import { remoteServer } from "../support/cluster.js";
import { builtFerryCli, startFerryProcess, type FerryProcess } from "../support/process.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-prebuilt-agent-"));
let ferry: FerryProcess;

before(async () => {
  ferry = await startFerryProcess({ FERRY_DATA_DIR: path.join(dir, "data"), FERRY_CATALOG_DIR: writeHelloCatalog(dir) });
});
after(async () => {
  await ferry?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The commands of a process's children. */
function childCommands(pid: number): string[] {
  try {
    return execFileSync("ps", ["-o", "comm=", "--ppid", String(pid)], { encoding: "utf8" }).split("\n").filter(Boolean);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

describe("the prebuilt site agent", () => {
  it("npm run build writes the same bytes as bundling agent/ at run time", async () => {
    const prebuilt = readFileSync(path.join(path.dirname(await builtFerryCli()), "ferry-agent.mjs"));
    const fromSources = await bundleFromSources();
    assert.ok(fromSources && fromSources.length > 100_000, "the agent bundles from its sources");
    assert.ok(prebuilt.equals(fromSources), `prebuilt ${prebuilt.length} bytes, from sources ${fromSources.length} bytes`);
  });

  it("a compiled server puts the prebuilt agent into bundles without starting esbuild", { timeout: 120_000 }, async () => {
    const server = await remoteServer(ferry.url);
    const world = await bundleWorld(server);
    const operator = await server.user(["operator"]);
    await publishHello(world, "1.0.0");
    const site = await createSite(server, operator, "acme", { name: "prebuilt", connectivity: "offline", variables: { INSTALL_ROOT: "/srv" }, secretVariables: { HELLO_TOKEN: "t" } });
    const requested = await world.request({ site: site.id, release: { product: "hello-suite", version: "1.0.0" } });
    assert.equal(requested.status, 202, requested.text);
    await world.waitReady(requested.body.id);
    const bundleFile = path.join(dir, "bundle.tar");
    await world.download(requested.body.id, bundleFile);
    const agentEntry = execFileSync("tar", ["-tf", bundleFile], { encoding: "utf8" }).split("\n").find((name) => name.endsWith("/agent/ferry-agent.mjs"));
    assert.ok(agentEntry, "the bundle carries the agent");
    const carried = execFileSync("tar", ["-xOf", bundleFile, agentEntry], { maxBuffer: 64 * 1024 * 1024 });
    const prebuilt = readFileSync(path.join(path.dirname(await builtFerryCli()), "ferry-agent.mjs"));
    assert.ok(carried.equals(prebuilt), "the bundle's agent is the prebuilt file");
    assert.deepEqual(childCommands(ferry.child.pid!).filter((command) => command.includes("esbuild")), [], "no esbuild process beside the server");
  });
});
