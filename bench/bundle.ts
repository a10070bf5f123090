/**
 * Bundle build throughput of a full bundle through a real `ferry server` against GNU
 * `tar cf` of the same files measured in the same run, the peak RSS of the process that
 * builds it, and the size of an incremental bundle where one 5 MB artifact of ~500 MB
 * changed, against its changed bytes. For context (no target) it also times GNU tar followed by
 * `openssl dgst -sha256` of the tar it wrote (a tar whose output gets a checksum) and GNU tar
 * followed by `sync` of the tar (a tar on disk when it is done, as a ready bundle is), and
 * prints the ceiling two SHA-256 passes put on the ratio on this machine's cores.
 *
 * One untimed warm-up build (printed), then BENCH_ROUNDS rounds alternating which of tar and
 * Ferry goes first; the ratio is the median of the rounds' own ratios (see upload-download.ts).
 *
 *   npm run bench -- bundle      (BENCH_BUNDLE_BYTES=2147483648 by default, spread over 4 artifacts; BENCH_ROUNDS=3)
 *
 * Disk: the files, their blobs and every full bundle stay until the end, about
 * (BENCH_ROUNDS + 3) × BENCH_BUNDLE_BYTES (12 GiB at the defaults).
 *
 * BENCH_PROFILE=embedded (default): one server on the embedded defaults builds in process.
 * BENCH_PROFILE=production: the production shape, a scratch database on PostgreSQL
 * (FERRY_TEST_DATABASE_URL), BullMQ on FERRY_TEST_REDIS_URL (redis://127.0.0.1:6379) and a server
 * that only serves HTTP beside one `ferry worker` process that builds; both are sampled.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { freshDatabase, freshQueuePrefix, REDIS_URL, type Cleanups } from "../test/support/cluster.js";
import { startFerryProcess, type FerryProcess } from "../test/support/process.js";
import { benchServerNodeArgs, childrenCpuMs, currentRssMiB, mb, median, printTable, processCpuTimes, sampleRss, settleDisk, timed } from "./lib.js";

const total = Number(process.env.BENCH_BUNDLE_BYTES ?? 2 * 1024 ** 3);
const incrementalBase = Number(process.env.BENCH_INCREMENTAL_BYTES ?? 495 * 1024 * 1024);
const changed = 5 * 1024 * 1024;
const profile = process.env.BENCH_PROFILE ?? "embedded";
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_ROUNDS must be a whole number of at least 1, not ${process.env.BENCH_ROUNDS}`);
if (profile !== "embedded" && profile !== "production") throw new Error(`BENCH_PROFILE must be embedded or production, not ${profile}`);

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
    // Not faster: on the embedded profile every poll costs the building server CPU.
    await new Promise((resolve) => setTimeout(resolve, 250));
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
  const gnuTar = path.join(work, "gnu.tar");
  /** CPU seconds (user + system) of each timed GNU tar. */
  const tarCpu: number[] = [];
  const tarOnce = async () => {
    settleDisk(work, total);
    const cpuBefore = childrenCpuMs();
    const seconds = await timed("tar", ["cf", gnuTar, "-C", files, "."]);
    tarCpu.push((childrenCpuMs() - cpuBefore) / 1000);
    rmSync(gnuTar);
    return seconds;
  };

  const { ferry, worker, stop } = await startFerry(path.join(work, "ferry"));
  try {
    const token = await ferry.login();
    for (const [component, version, name] of names) await upload(ferry, token, component, version, path.join(files, component, version, name));
    await api(ferry, token, "POST", "/api/v1/releases", { product: "bench", version: "1.0.0", components: names.map(([name, version]) => ({ name, version })) });
    await api(ferry, token, "POST", "/api/v1/releases/bench/1.0.0/seal");
    await api(ferry, token, "POST", "/api/v1/customers", { name: "bench" });
    let sites = 0;
    const newSite = () => api(ferry, token, "POST", "/api/v1/customers/bench/sites", { name: `site-${sites++}`, environment: "production", platform: "vm", connectivity: "offline" });
    const builderPid = (worker ?? ferry).child.pid!;
    const peak = { server: 0, worker: 0 };
    /** One full bundle for a new site (the same request for the same site would reuse the last one); seconds from POST to the server's readyAt. */
    const ferryOnce = async () => {
      const site = await newSite();
      settleDisk(work, total);
      const samplers = { server: sampleRss(ferry.child.pid!), worker: worker ? sampleRss(worker.child.pid!) : null };
      const cpuBefore = processCpuTimes(builderPid);
      const started = Date.now();
      const requested = await api(ferry, token, "POST", "/api/v1/bundles", { site: site.id, release: { product: "bench", version: "1.0.0" } });
      const built = await waitReady(ferry, token, requested.id);
      // Until the server's own readyAt (same machine, same clock), not until the poll noticed.
      const seconds = (Date.parse(built.readyAt) - started) / 1000;
      peak.server = Math.max(peak.server, samplers.server.stop());
      peak.worker = Math.max(peak.worker, samplers.worker?.stop() ?? 0);
      const cpuAfter = processCpuTimes(builderPid);
      return { site, seconds, size: Number(built.size), cpu: { user: (cpuAfter.user - cpuBefore.user) / 1000, system: (cpuAfter.system - cpuBefore.system) / 1000 } };
    };

    // Warm-up, untimed for the ratio: the first build (and the first tar) of a run writes
    // into pages no later one does (see upload-download.ts). The idle RSS is read after it.
    await tarOnce();
    const warmUp = await ferryOnce();
    const idle = { server: currentRssMiB(ferry.child.pid!), worker: worker ? currentRssMiB(worker.child.pid!) : 0 };
    // Context, not the target: tar, then a checksum of what it wrote, as a bundle must have (Ferry
    // also verifies the sha256 of every blob it reads, a second pass of the same cost). Not a pipe
    // through tee: tee's small writes cost more system time than the hash.
    settleDisk(work, total);
    const hashedTarSeconds = await timed("sh", ["-c", `tar cf ${gnuTar} -C ${files} . && openssl dgst -sha256 ${gnuTar} >/dev/null`]);
    rmSync(gnuTar);
    // Context too: tar, then an fsync of what it wrote (coreutils `sync FILE`). GNU tar returns
    // while its bytes are still in the page cache; a bundle is ready only once they are on disk.
    settleDisk(work, total);
    const durableTarSeconds = await timed("sh", ["-c", `tar cf ${gnuTar} -C ${files} . && sync ${gnuTar}`]);
    rmSync(gnuTar);

    // Alternating which goes first, as in upload-download.ts.
    const measured: Array<{ tar: number; ferry: number; cpu: { user: number; system: number } }> = [];
    for (let round = 0; round < rounds; round++) {
      const tarFirst = round % 2 === 0;
      const tar = tarFirst ? await tarOnce() : NaN;
      const built = await ferryOnce();
      measured.push({ tar: tarFirst ? tar : await tarOnce(), ferry: built.seconds, cpu: built.cpu });
    }
    rmSync(files, { recursive: true, force: true });

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
    const incremental = await waitReady(ferry, token, (await api(ferry, token, "POST", "/api/v1/bundles", { site: warmUp.site.id, release: { product: "inc", version: "1.1.0" }, from: "1.0.0" })).id);
    const agentBytes = incremental.manifest.files.find((f: { path: string }) => f.path === "agent/ferry-agent.mjs")?.size ?? 0;

    const rate = (bytes: number, seconds: number) => (mb(bytes) / seconds).toFixed(0);
    const builder = worker ? "worker" : "server";
    const size = warmUp.size;
    const tarMedian = median(measured.map((m) => m.tar));
    const ferryMedian = median(measured.map((m) => m.ferry));
    console.log(
      `\nprofile ${profile}; full bundle: ${mb(size).toFixed(0)} MiB over ${names.length} artifacts; ${rounds} round(s) after one warm-up build; ` +
        `idle RSS (after the uploads and the warm-up): server ${idle.server.toFixed(0)} MiB${worker ? `, worker ${idle.worker.toFixed(0)} MiB` : ""}`,
    );
    printTable(measured.map((m, i) => ({ round: i + 1, first: i % 2 === 0 ? "tar" : "ferry", "tar MB/s": rate(total, m.tar), "ferry MB/s": rate(size, m.ferry), ratio: (m.tar / m.ferry).toFixed(2) })));
    console.log("");
    printTable([
      { what: "baseline: GNU tar cf (same files), median", "MB/s": rate(total, tarMedian), seconds: tarMedian.toFixed(2), "peak RSS MiB": "-" },
      { what: "reference: GNU tar cf, then openssl sha256 of it", "MB/s": rate(total, hashedTarSeconds), seconds: hashedTarSeconds.toFixed(2), "peak RSS MiB": "-" },
      { what: "reference: GNU tar cf, then sync of it", "MB/s": rate(total, durableTarSeconds), seconds: durableTarSeconds.toFixed(2), "peak RSS MiB": "-" },
      { what: `ferry first full bundle (warm-up, not in a ratio)`, "MB/s": rate(size, warmUp.seconds), seconds: warmUp.seconds.toFixed(2), "peak RSS MiB": "-" },
      { what: `ferry full bundle (POST → ready), built by the ${builder}, median`, "MB/s": rate(size, ferryMedian), seconds: ferryMedian.toFixed(2), "peak RSS MiB": peak[builder].toFixed(0) },
    ]);
    const ratios = measured.map((m) => m.tar / m.ferry);
    const spread = ratios.length > 1 ? `; rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : "";
    console.log(
      `\nratio ferry/GNU tar throughput: ${median(ratios).toFixed(2)} (target >= 0.8)${spread}; to tar then openssl sha256: ${(hashedTarSeconds / ferryMedian).toFixed(2)}; ` +
        `to tar then sync: ${(durableTarSeconds / ferryMedian).toFixed(2)}`,
    );
    // The least CPU any builder needs that reads and writes through the page cache as tar does
    // and hashes every byte twice (SPEC §8: verified as read, hashed as written), spread
    // perfectly over every core: how close to tar this machine lets a build come at best.
    const tarCpuPerGiB = median(tarCpu) / (total / 1024 ** 3);
    const sha256PerGiB = sha256CpuSecondsPerGiB();
    const floorPerGiB = tarCpuPerGiB + 2 * sha256PerGiB;
    const cores = availableParallelism();
    const ceilingSeconds = (floorPerGiB * (size / 1024 ** 3)) / cores;
    console.log(
      `ceiling: GNU tar's own CPU ${tarCpuPerGiB.toFixed(2)} s + 2 SHA-256 passes of ${sha256PerGiB.toFixed(2)} s = ${floorPerGiB.toFixed(2)} s per GiB; ` +
        `on ${cores} cores, all busy, at best ${rate(size, ceilingSeconds)} MB/s, ratio ${(tarMedian / ceilingSeconds).toFixed(2)}`,
    );
    const gib = (size / 1024 ** 3) * measured.length;
    const perGiB = (seconds: number) => (seconds / gib).toFixed(2);
    console.log(`CPU of the ${builder} process while building, per GiB: user ${perGiB(measured.reduce((sum, m) => sum + m.cpu.user, 0))} s, system ${perGiB(measured.reduce((sum, m) => sum + m.cpu.system, 0))} s`);
    console.log(`peak RSS while building: server ${peak.server.toFixed(0)} MiB${worker ? `, worker ${peak.worker.toFixed(0)} MiB` : ""} (target < 200)`);
    console.log(
      `incremental bundle (one ${mb(changed).toFixed(0)} MiB artifact of ${mb(incrementalBase + changed).toFixed(0)} MiB changed): ${(incremental.size / 1e6).toFixed(2)} MB ` +
        `(${(agentBytes / 1e6).toFixed(2)} MB of it the bundled agent), ratio to changed bytes ${(incremental.size / changed).toFixed(2)}`,
    );
  } finally {
    await stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** CPU seconds this process spends on one GiB of SHA-256 (Node's, as Ferry's hashing uses). */
function sha256CpuSecondsPerGiB(): number {
  const block = Buffer.alloc(64 * 1024 * 1024, 0x5a);
  const rounds = 8;
  const before = process.cpuUsage();
  const hash = createHash("sha256");
  for (let i = 0; i < rounds; i++) hash.update(block);
  hash.digest();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6 / ((rounds * block.length) / 1024 ** 3);
}

/** The server (and in the production profile the worker that builds), and how to stop them and drop what they used. */
async function startFerry(dataDir: string): Promise<{ ferry: FerryProcess; worker: FerryProcess | null; stop(): Promise<void> }> {
  if (profile === "embedded") {
    const ferry = await startFerryProcess({ FERRY_DATA_DIR: dataDir, LOG_LEVEL: "warn" }, ["server"], benchServerNodeArgs());
    return { ferry, worker: null, stop: () => ferry.stop() };
  }
  const cleanups: Cleanups = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    const env = {
      DATABASE_URL: (await freshDatabase(cleanups, "ferry_bench_bundle")).url,
      REDIS_URL,
      FERRY_QUEUE_PREFIX: freshQueuePrefix(cleanups),
      FERRY_DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
    };
    // The server migrates the scratch database before the worker starts on it.
    const ferry = await startFerryProcess({ ...env, FERRY_EMBEDDED_WORKER: "false" }, ["server"], benchServerNodeArgs());
    cleanups.push(() => ferry.stop());
    const worker = await startFerryProcess(env, ["worker"], benchServerNodeArgs());
    cleanups.push(() => worker.stop());
    return { ferry, worker, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
