/**
 * Bundle build throughput of a full bundle through a real `ferry server` (embedded
 * defaults) against GNU `tar cf` of the same files measured in the same run, the
 * server's peak RSS while it builds, and the size of an incremental bundle where one
 * 5 MB artifact of ~500 MB changed, against its changed bytes.
 *
 *   npm run bench -- bundle      (BENCH_BUNDLE_BYTES=2147483648 by default, spread over 4 artifacts)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startFerryProcess, type FerryProcess } from "../test/support/process.js";
import { currentRssMiB, mb, printTable, sampleRss, settleDisk, timed } from "./lib.js";

const total = Number(process.env.BENCH_BUNDLE_BYTES ?? 2 * 1024 ** 3);
const incrementalBase = Number(process.env.BENCH_INCREMENTAL_BYTES ?? 495 * 1024 * 1024);
const changed = 5 * 1024 * 1024;

const work = mkdtempSync(path.join(tmpdir(), "ferry-bench-bundle-"));
const sh = (command: string) => execFileSync("sh", ["-c", command], { stdio: "inherit" });

async function api(ferry: FerryProcess, token: string, method: string, urlPath: string, body?: unknown) {
  const response = await fetch(ferry.url + urlPath, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 400) throw new Error(`${method} ${urlPath}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

async function upload(ferry: FerryProcess, token: string, component: string, version: string, file: string) {
  await timed("curl", ["-sSf", "-o", "/dev/null", "-H", `authorization: Bearer ${token}`, "-H", "x-artifact-kind: binary", "-T", file, `${ferry.url}/api/v1/artifacts/${component}/${version}/${path.basename(file)}`]);
}

async function waitReady(ferry: FerryProcess, token: string, id: string) {
  for (;;) {
    const bundle = await api(ferry, token, "GET", `/api/v1/bundles/${id}`);
    if (bundle.status === "ready") return bundle;
    if (bundle.status === "failed") throw new Error(`bundle failed: ${bundle.error}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

try {
  // The same files on disk for GNU tar and uploaded to Ferry.
  const files = path.join(work, "files");
  const names: Array<[string, string, string]> = [
    ["postgresql", "16.4", "postgresql-16.4-linux-x64-binaries.tar.gz"],
    ["redis", "7.2.5", "redis-7.2.5-linux-x64.tar.gz"],
    ["orders-api", "1.0.0", "orders-api-1.0.0.tar.gz"],
    ["orders-web", "1.0.0", "orders-web-1.0.0.tar.gz"],
  ];
  const each = Math.floor(total / names.length);
  for (const [component, version, name] of names) {
    mkdirSync(path.join(files, component, version), { recursive: true });
    sh(`head -c ${each} /dev/urandom > ${path.join(files, component, version, name)}`);
  }
  settleDisk(work, total);
  const tarSeconds = await timed("tar", ["cf", path.join(work, "gnu.tar"), "-C", files, "."]);
  rmSync(path.join(work, "gnu.tar"));

  const ferry = await startFerryProcess({ FERRY_DATA_DIR: path.join(work, "ferry"), LOG_LEVEL: "warn" });
  try {
    const token = await ferry.login();
    for (const [component, version, name] of names) await upload(ferry, token, component, version, path.join(files, component, version, name));
    rmSync(files, { recursive: true, force: true });
    await api(ferry, token, "POST", "/api/v1/releases", { product: "bench", version: "1.0.0", components: names.map(([name, version]) => ({ name, version })) });
    await api(ferry, token, "POST", "/api/v1/releases/bench/1.0.0/seal");
    await api(ferry, token, "POST", "/api/v1/customers", { name: "bench" });
    const site = await api(ferry, token, "POST", "/api/v1/customers/bench/sites", { name: "site", environment: "production", platform: "vm", connectivity: "offline" });

    const pid = ferry.child.pid!;
    settleDisk(work, total);
    const idle = currentRssMiB(pid);
    const sampler = sampleRss(pid);
    const started = process.hrtime.bigint();
    const requested = await api(ferry, token, "POST", "/api/v1/bundles", { site: site.id, release: { product: "bench", version: "1.0.0" } });
    const full = await waitReady(ferry, token, requested.id);
    const buildSeconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peak = sampler.stop();

    // Incremental: ~495 MB unchanged plus one 5 MB artifact that changes.
    const inc = path.join(work, "inc");
    mkdirSync(inc);
    sh(`head -c ${incrementalBase} /dev/urandom > ${inc}/postgresql-17.0-linux-x64-binaries.tar.gz`);
    sh(`head -c ${changed} /dev/urandom > ${inc}/orders-api-1.0.0.tar.gz && head -c ${changed} /dev/urandom > ${inc}/orders-api-1.1.0.tar.gz`);
    await upload(ferry, token, "postgresql", "17.0", `${inc}/postgresql-17.0-linux-x64-binaries.tar.gz`);
    await upload(ferry, token, "orders-api", "1.0.0-inc", `${inc}/orders-api-1.0.0.tar.gz`);
    await upload(ferry, token, "orders-api", "1.1.0-inc", `${inc}/orders-api-1.1.0.tar.gz`);
    for (const [version, api_] of [["1.0.0", "1.0.0-inc"], ["1.1.0", "1.1.0-inc"]]) {
      await api(ferry, token, "POST", "/api/v1/releases", { product: "inc", version, components: [{ name: "postgresql", version: "17.0" }, { name: "orders-api", version: api_ }] });
      await api(ferry, token, "POST", `/api/v1/releases/inc/${version}/seal`);
    }
    const incremental = await waitReady(ferry, token, (await api(ferry, token, "POST", "/api/v1/bundles", { site: site.id, release: { product: "inc", version: "1.1.0" }, from: "1.0.0" })).id);
    const agentBytes = incremental.manifest.files.find((f: { path: string }) => f.path === "agent/ferry-agent.mjs")?.size ?? 0;

    const rate = (bytes: number, seconds: number) => (mb(bytes) / seconds).toFixed(0);
    console.log(`\nfull bundle: ${mb(full.size).toFixed(0)} MiB over ${names.length} artifacts; ferry idle RSS ${idle.toFixed(0)} MiB`);
    printTable([
      { what: "baseline: GNU tar cf (same files)", "MB/s": rate(total, tarSeconds), seconds: tarSeconds.toFixed(2), "peak RSS MiB": "-" },
      { what: "ferry full bundle (POST → ready)", "MB/s": rate(full.size, buildSeconds), seconds: buildSeconds.toFixed(2), "peak RSS MiB": peak.toFixed(0) },
    ]);
    console.log(`\nratio ferry/GNU tar throughput: ${(tarSeconds / buildSeconds).toFixed(2)} (target >= 0.8)`);
    console.log(`peak server RSS while building: ${peak.toFixed(0)} MiB (target < 200)`);
    console.log(
      `incremental bundle (one ${mb(changed).toFixed(0)} MiB artifact of ${mb(incrementalBase + changed).toFixed(0)} MiB changed): ${(incremental.size / 1e6).toFixed(2)} MB ` +
        `(${(agentBytes / 1e6).toFixed(2)} MB of it the bundled agent), ratio to changed bytes ${(incremental.size / changed).toFixed(2)}`,
    );
  } finally {
    await ferry.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
