/**
 * Upload and download throughput of one large file through Ferry (a real `ferry server`
 * process on loopback, embedded defaults, curl as the client) against baselines measured
 * in the same run on the same file: nginx (PUT via its DAV module, static GET) when it is
 * installed, and `cat` / `sha256sum` always. Also the server's peak RSS during each transfer,
 * and its RSS once it has sat idle after them (what glibc's malloc keeps unless trimmed:
 * compare FERRY_MALLOC_TRIM_MS=0).
 *
 *   npm run bench -- upload            (BENCH_BYTES=1073741824 by default)
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { startFerryProcess, freePort } from "../test/support/process.js";
import { currentRssMiB, have, mb, printTable, sampleRss, settleDisk, timed } from "./lib.js";

const bytes = Number(process.env.BENCH_BYTES ?? 1024 ** 3);
/** Two of the trimmer's default 5 s ticks, and a second for the frees V8 makes off-thread. */
const idleWaitMs = Number(process.env.BENCH_IDLE_WAIT_MS ?? 11_000);

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
try {
  execFileSync("sh", ["-c", `head -c ${bytes} /dev/urandom > ${file}`]);
  const rows: Array<Record<string, string | number>> = [];
  const rate = (seconds: number) => (mb(bytes) / seconds).toFixed(0);

  settle();
  const hashSeconds = await timed("sha256sum", [file]);
  const digest = execFileSync("sha256sum", [file]).toString().split(" ")[0]!;
  rows.push({ what: "baseline: sha256sum file", "MB/s": rate(hashSeconds), "peak RSS MiB": "-" });
  const catSeconds = await timed("sh", ["-c", `cat ${file} > ${path.join(work, "copy.bin")}`]);
  rows.push({ what: "baseline: cat file > copy", "MB/s": rate(catSeconds), "peak RSS MiB": "-" });
  rmSync(path.join(work, "copy.bin"));

  const nginx = await startNginx(path.join(work, "nginx"));
  let nginxUp = 0;
  let nginxDown = 0;
  if (nginx) {
    settle();
    nginxUp = await timed("curl", ["-sSf", "-o", "/dev/null", "-T", file, `${nginx.url}/payload.bin`]);
    settle();
    nginxDown = await timed("curl", ["-sSf", "-o", "/dev/null", `${nginx.url}/payload.bin`]);
    rows.push({ what: "baseline: nginx PUT (DAV)", "MB/s": rate(nginxUp), "peak RSS MiB": "-" });
    rows.push({ what: "baseline: nginx GET", "MB/s": rate(nginxDown), "peak RSS MiB": "-" });
    nginx.stop();
  } else {
    console.log("nginx not installed (apt-get install nginx-light): nginx baselines skipped");
  }

  const ferry = await startFerryProcess({ FERRY_DATA_DIR: path.join(work, "ferry") });
  try {
    const token = await ferry.login();
    const pid = ferry.child.pid!;
    const idle = currentRssMiB(pid);
    const url = `${ferry.url}/api/v1/artifacts/bench/1.0.0/payload.bin`;
    settle();
    const upSampler = sampleRss(pid);
    const up = await timed("curl", ["-sSf", "-o", "/dev/null", "-H", `authorization: Bearer ${token}`, "-H", `x-checksum-sha256: ${digest}`, "-T", file, url]);
    const upPeak = upSampler.stop();
    settle();
    const downSampler = sampleRss(pid);
    const down = await timed("curl", ["-sSf", "-o", "/dev/null", "-H", `authorization: Bearer ${token}`, url]);
    const downPeak = downSampler.stop();
    await new Promise((resolve) => setTimeout(resolve, idleWaitMs));
    const idleAfter = currentRssMiB(pid);
    rows.push({ what: "ferry PUT (curl -T, checksum verified)", "MB/s": rate(up), "peak RSS MiB": upPeak.toFixed(0) });
    rows.push({ what: "ferry GET (hash verified while streaming)", "MB/s": rate(down), "peak RSS MiB": downPeak.toFixed(0) });
    console.log(`\nfile: ${mb(bytes).toFixed(0)} MiB; ferry idle RSS ${idle.toFixed(0)} MiB`);
    printTable(rows);
    if (nginx) {
      console.log(`\nratio upload ferry/nginx: ${(nginxUp / up).toFixed(2)} (target >= 0.6)`);
      console.log(`ratio download ferry/nginx: ${(nginxDown / down).toFixed(2)} (target >= 0.5)`);
    }
    console.log(`ratio upload ferry/sha256sum: ${(hashSeconds / up).toFixed(2)}`);
    console.log(`peak server RSS during transfer: ${Math.max(upPeak, downPeak).toFixed(0)} MiB (target < 200)`);
    console.log(`server RSS ${(idleWaitMs / 1000).toFixed(0)} s after the transfers: ${idleAfter.toFixed(0)} MiB (idle before: ${idle.toFixed(0)} MiB)`);
  } finally {
    await ferry.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
