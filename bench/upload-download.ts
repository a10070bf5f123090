/**
 * Upload and download throughput of one large file through Ferry (a real `ferry server`
 * process on loopback, embedded defaults, curl as the client) against baselines measured
 * in the same run on the same file: nginx (PUT via its DAV module, static GET) when it is
 * installed, and `cat` / `sha256sum` always. Also the server's peak RSS during each transfer,
 * and its RSS once it has sat idle after them (what glibc's malloc keeps unless trimmed:
 * compare FERRY_MALLOC_TRIM_MS=0).
 *
 * On these virtual machines the same transfer varies up to 2.6x from one run to the next
 * (docs/BENCHMARKS.md), and the first upload into a fresh server is the slowest of all. So
 * each side first makes one untimed upload (Ferry's is printed, not counted), then the
 * transfers run in BENCH_ROUNDS rounds that alternate which side goes first; a ratio is the
 * median of the rounds' own ratios, each taken between two transfers a few seconds apart.
 * Every upload carries different content (the file's first bytes change), so none is
 * answered by deduplication.
 *
 *   npm run bench -- upload            (BENCH_BYTES=1073741824, BENCH_ROUNDS=3 by default)
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, mkdtempSync, openSync, closeSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startFerryProcess, freePort } from "../test/support/process.js";
import { benchServerNodeArgs, currentRssMiB, have, mb, median, printTable, sampleRss, settleDisk, timed } from "./lib.js";

const bytes = Number(process.env.BENCH_BYTES ?? 1024 ** 3);
/** Two of the trimmer's default 5 s ticks, and a second for the frees V8 makes off-thread. */
const idleWaitMs = Number(process.env.BENCH_IDLE_WAIT_MS ?? 11_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_ROUNDS must be a whole number of at least 1, not ${process.env.BENCH_ROUNDS}`);

async function startNginx(root: string): Promise<{ url: string; stop(): void } | null> {
  if (!have("nginx")) return null;
  const port = await freePort();
  const conf = path.join(root, "nginx.conf");
  mkdirSync(path.join(root, "www"), { recursive: true });
  mkdirSync(path.join(root, "body"), { recursive: true });
  writeFileSync(
    conf,
    // As root, nginx's workers would drop to `nobody` and could not write into our private temp dir.
    `${process.getuid?.() === 0 ? "user root root;" : ""} daemon off; worker_processes 1; pid ${root}/nginx.pid; error_log ${root}/error.log;
events { worker_connections 64; }
http {
  access_log off; sendfile on; client_max_body_size 0; client_body_temp_path ${root}/body;
  server { listen 127.0.0.1:${port}; root ${root}/www;
    location / { dav_methods PUT; create_full_put_path on; } } }
`,
  );
  const child = spawn("nginx", ["-c", conf, "-p", root], { stdio: "ignore" });
  for (let i = 0; i < 50; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return { url: `http://127.0.0.1:${port}`, stop: () => child.kill("SIGTERM") };
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  child.kill();
  return null;
}

const work = mkdtempSync(path.join(tmpdir(), "ferry-bench-"));
const file = path.join(work, "payload.bin");
/** Before each timed transfer: see settleDisk (the previous step's dirty pages, fresh guest pages). */
const settle = () => settleDisk(work, bytes);

/** Gives the payload new content (its first 32 bytes) and returns its sha256. */
async function freshContent(): Promise<string> {
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, randomBytes(32), 0, 32, 0);
  } finally {
    closeSync(fd);
  }
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

interface Round {
  nginxUp: number;
  nginxDown: number;
  ferryUp: number;
  ferryDown: number;
}

try {
  execFileSync("sh", ["-c", `head -c ${bytes} /dev/urandom > ${file}`]);
  const rate = (seconds: number) => mb(bytes) / seconds;
  const range = (values: number[]) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;

  settle();
  const hashSeconds = await timed("sha256sum", [file]);
  const catSeconds = await timed("sh", ["-c", `cat ${file} > ${path.join(work, "copy.bin")}`]);
  rmSync(path.join(work, "copy.bin"));

  const nginx = await startNginx(path.join(work, "nginx"));
  if (!nginx) console.log("nginx not installed (apt-get install nginx-light): nginx baselines skipped");
  const ferry = await startFerryProcess({ FERRY_DATA_DIR: path.join(work, "ferry") }, ["server"], benchServerNodeArgs());
  try {
    const token = await ferry.login();
    const pid = ferry.child.pid!;
    const idle = currentRssMiB(pid);
    let uploads = 0;
    const curlAuth = ["-H", `authorization: Bearer ${token}`];
    const nginxPut = () => timed("curl", ["-sSf", "-o", "/dev/null", "-T", file, `${nginx!.url}/payload.bin`]);
    const nginxGet = () => timed("curl", ["-sSf", "-o", "/dev/null", `${nginx!.url}/payload.bin`]);
    /** Uploads the payload as a new version; returns the seconds and the version's URL. */
    const ferryPut = async (digest: string) => {
      const url = `${ferry.url}/api/v1/artifacts/bench/1.0.${uploads++}/payload.bin`;
      return { seconds: await timed("curl", ["-sSf", "-o", "/dev/null", ...curlAuth, "-H", `x-checksum-sha256: ${digest}`, "-T", file, url]), url };
    };
    const peaks = { up: 0, down: 0 };
    const sampled = async <T>(direction: "up" | "down", transfer: () => Promise<T>): Promise<T> => {
      const sampler = sampleRss(pid);
      try {
        return await transfer();
      } finally {
        peaks[direction] = Math.max(peaks[direction], sampler.stop());
      }
    };

    // Warm-up, untimed for the ratio: the first upload into a fresh server pays for memory and
    // pages no later one does (docs/BENCHMARKS.md). nginx gets the same.
    settle();
    if (nginx) await nginxPut();
    settle();
    const firstUp = await sampled("up", async () => (await ferryPut(await freshContent())).seconds);

    const measured: Round[] = [];
    for (let round = 0; round < rounds; round++) {
      const digest = await freshContent();
      const nginxFirst = round % 2 === 0;
      let nginxUp = NaN;
      let nginxDown = NaN;
      let ferryUp = NaN;
      let ferryDown = NaN;
      let url = "";
      const nginxSide = async () => {
        if (!nginx) return;
        settle();
        nginxUp = await nginxPut();
        settle();
        nginxDown = await nginxGet();
      };
      const ferrySide = async () => {
        settle();
        const put = await sampled("up", () => ferryPut(digest));
        ferryUp = put.seconds;
        url = put.url;
        settle();
        ferryDown = await sampled("down", () => timed("curl", ["-sSf", "-o", "/dev/null", ...curlAuth, url]));
      };
      if (nginxFirst) {
        await nginxSide();
        await ferrySide();
      } else {
        await ferrySide();
        await nginxSide();
      }
      measured.push({ nginxUp, nginxDown, ferryUp, ferryDown });
    }
    await new Promise((resolve) => setTimeout(resolve, idleWaitMs));
    const idleAfter = currentRssMiB(pid);

    console.log(`\nfile: ${mb(bytes).toFixed(0)} MiB; ${rounds} round(s) after one warm-up upload each; ferry idle RSS ${idle.toFixed(0)} MiB`);
    printTable(
      measured.map((round, i) => ({
        round: i + 1,
        first: nginx ? (i % 2 === 0 ? "nginx" : "ferry") : "ferry",
        "nginx PUT MB/s": nginx ? rate(round.nginxUp).toFixed(0) : "-",
        "ferry PUT MB/s": rate(round.ferryUp).toFixed(0),
        "nginx GET MB/s": nginx ? rate(round.nginxDown).toFixed(0) : "-",
        "ferry GET MB/s": rate(round.ferryDown).toFixed(0),
      })),
    );
    console.log("");
    const rows: Array<Record<string, string | number>> = [
      { what: "baseline: sha256sum file", "MB/s": rate(hashSeconds).toFixed(0), "peak RSS MiB": "-" },
      { what: "baseline: cat file > copy", "MB/s": rate(catSeconds).toFixed(0), "peak RSS MiB": "-" },
    ];
    if (nginx) {
      rows.push({ what: "baseline: nginx PUT (DAV), median", "MB/s": rate(median(measured.map((r) => r.nginxUp))).toFixed(0), "peak RSS MiB": "-" });
      rows.push({ what: "baseline: nginx GET, median", "MB/s": rate(median(measured.map((r) => r.nginxDown))).toFixed(0), "peak RSS MiB": "-" });
    }
    rows.push({ what: "ferry first PUT of a fresh server (warm-up, not in a ratio)", "MB/s": rate(firstUp).toFixed(0), "peak RSS MiB": "-" });
    rows.push({ what: "ferry PUT (curl -T, checksum verified), median", "MB/s": rate(median(measured.map((r) => r.ferryUp))).toFixed(0), "peak RSS MiB": peaks.up.toFixed(0) });
    rows.push({ what: "ferry GET (hash verified while streaming), median", "MB/s": rate(median(measured.map((r) => r.ferryDown))).toFixed(0), "peak RSS MiB": peaks.down.toFixed(0) });
    printTable(rows);
    if (nginx) {
      const upRatios = measured.map((r) => r.nginxUp / r.ferryUp);
      const downRatios = measured.map((r) => r.nginxDown / r.ferryDown);
      const spread = (ratios: number[]) => (ratios.length > 1 ? `; rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}` : "");
      console.log(`\nratio upload ferry/nginx: ${median(upRatios).toFixed(2)} (target >= 0.6)${spread(upRatios)}`);
      console.log(`ratio download ferry/nginx: ${median(downRatios).toFixed(2)} (target >= 0.5)${spread(downRatios)}`);
      console.log(`nginx from round to round: PUT ${range(measured.map((r) => rate(r.nginxUp)))} MB/s, GET ${range(measured.map((r) => rate(r.nginxDown)))} MB/s`);
    }
    console.log(`ratio upload ferry/sha256sum: ${(hashSeconds / median(measured.map((r) => r.ferryUp))).toFixed(2)}`);
    console.log(`peak server RSS during transfer: ${Math.max(peaks.up, peaks.down).toFixed(0)} MiB (target < 200)`);
    console.log(`server RSS ${(idleWaitMs / 1000).toFixed(0)} s after the transfers: ${idleAfter.toFixed(0)} MiB (idle before: ${idle.toFixed(0)} MiB)`);
  } finally {
    nginx?.stop();
    await ferry.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
