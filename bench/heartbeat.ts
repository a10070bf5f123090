/**
 * Agent heartbeats at scale (issue 5): 10,000 registered agent sites on PostgreSQL (rows
 * inserted directly, tokens stored hashed as the server does), a Ferry server in its own
 * process, and a client driving real HTTP heartbeats on loopback with bounded
 * concurrency for a fixed duration. `?wait=0` makes each heartbeat non-blocking (no long
 * poll), so the number measured is the server's work per heartbeat: the HTTP stack, the
 * site-token lookup, recording the check-in and looking for work. The same client first
 * drives a bare node:http server (the baseline). Besides throughput and latency it reports
 * the CPU time the server process and PostgreSQL's backends spent per heartbeat, which
 * varies far less than throughput on a shared machine, and the server's peak RSS under the
 * load. The server runs as `npm start` and the image run it: the compiled dist/ferry.js with
 * the same Node.js flags and environment (startFerryProcess, as the other benches start it).
 *
 * Env: BENCH_SITES (10000), BENCH_SECONDS (20), BENCH_CONCURRENCY (64),
 * FERRY_TEST_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/test), BENCH_SERVER_NODE_ARGS
 * (Node.js flags added after the usual ones, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, request } from "node:http";
import pg from "pg";
import { hashOpaqueToken, newOpaqueToken, SITE_TOKEN_PREFIX } from "../server/auth/opaque-token.js";
import { createScratchDatabase, TEST_DATABASE_URL } from "../test/support/postgres.js";
import { startFerryProcess } from "../test/support/process.js";
import { benchServerNodeArgs, currentRssMiB, load, percentile, printTable, processCpuMs, sampleRss } from "./lib.js";

const SITES = Number(process.env.BENCH_SITES ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const root = path.resolve(import.meta.dirname, "..");

async function startFerry(databaseUrl: string, dataDir: string): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const env = { DATABASE_URL: databaseUrl, FERRY_DATA_DIR: dataDir, FERRY_ADMIN_PASSWORD: "bench-password", LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn", FERRY_CATALOG_DIR: path.join(root, "catalog") };
  const ferry = await startFerryProcess(env, ["server"], benchServerNodeArgs());
  // Server errors (pino level 50+) and anything on stderr are shown; the rest of its log is not.
  ferry.child.stdout!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (/"level":(50|60)/.test(line)) console.error(line.slice(0, 2000));
  });
  ferry.child.stderr!.on("data", (chunk: Buffer) => process.stderr.write(chunk));
  return { port: Number(new URL(ferry.url).port), pid: ferry.child.pid!, stop: ferry.stop };
}

/** A server process on `port`, stopped with SIGTERM. */
function running(child: ChildProcess, port: number): { port: number; pid: number; stop(): Promise<void> } {
  return {
    port,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Registers SITES agent sites straight into the tables, in batches; returns their tokens. */
async function registerSites(databaseUrl: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const customerId = randomUUID();
  await client.query(`INSERT INTO "Customer" (id, name) VALUES ($1, 'bench')`, [customerId]);
  const tokens: string[] = [];
  for (let start = 0; start < SITES; start += 1_000) {
    const ids: string[] = [];
    const names: string[] = [];
    const hashes: string[] = [];
    for (let i = start; i < Math.min(SITES, start + 1_000); i++) {
      const token = newOpaqueToken(SITE_TOKEN_PREFIX);
      tokens.push(token);
      ids.push(randomUUID());
      names.push(`site-${i}`);
      hashes.push(hashOpaqueToken(token));
    }
    await client.query(
      `INSERT INTO "Site" (id, "customerId", name, environment, platform, connectivity, "agentTokenHash", "updatedAt")
       SELECT id, $1, name, 'production', 'vm', 'agent', hash, now() FROM unnest($2::text[], $3::text[], $4::text[]) AS t(id, name, hash)`,
      [customerId, ids, names, hashes],
    );
  }
  await client.end();
  return tokens;
}

/**
 * CPU used by the processes that do the work, which says more than throughput on a shared
 * machine: the Ferry server, and the PostgreSQL backends serving the bench database.
 */
function cpuMeter(serverPid: number, databaseName: string | null) {
  const backends = async (): Promise<number[]> => {
    if (!databaseName) return [];
    const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await client.connect();
    const { rows } = await client.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1`, [databaseName]);
    await client.end();
    return rows.map((row) => row.pid);
  };
  const sample = async () => {
    const pids = await backends();
    return { server: processCpuMs(serverPid), postgres: new Map(pids.map((pid) => [pid, processCpuMs(pid)])) };
  };
  return {
    async start() {
      const before = await sample();
      return async () => {
        const after = await sample();
        let postgres = 0;
        for (const [pid, ms] of after.postgres) postgres += ms - (before.postgres.get(pid) ?? 0);
        return { server: after.server - before.server, postgres };
      };
    },
  };
}

function heartbeat(agent: Agent, port: number, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method: "POST", path: "/api/v1/agent/heartbeat?wait=0", agent, headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/**
 * The baseline: a bare node:http server in its own process that reads and parses the same
 * JSON body and answers 204, driven by the same client. It bounds what any Node.js HTTP
 * server can do on this machine with this client; Ferry's number is read against it.
 */
const BASELINE_SERVER = `
const server = require("node:http").createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => { JSON.parse(Buffer.concat(chunks).toString("utf8")); res.statusCode = 204; res.end(); });
});
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

async function startBaseline(): Promise<{ port: number; pid: number; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["-e", BASELINE_SERVER], { stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once("exit", (code) => reject(new Error(`baseline server exited with ${code}`)));
  });
  return running(child, port);
}

interface Run {
  heartbeats: number;
  latencies: number[];
  statuses: Map<number, number>;
  serverCpuMs: number;
  postgresCpuMs: number;
  clientCpuMs: number;
}

/** CONCURRENCY clients sending heartbeats, round robin over the tokens, for SECONDS. */
async function drive(port: number, serverPid: number, tokens: string[], databaseName: string | null): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const body = JSON.stringify({ agentVersion: "0.1.0", inventory: { components: [{ name: "orders-api", version: "2.4.0" }], host: { os: "linux", cpus: 8 } } });
  const statuses = new Map<number, number>();
  const stopMeter = await cpuMeter(serverPid, databaseName).start();
  const clientCpu = process.cpuUsage();
  const { calls, latencies } = await load(
    async (n) => {
      const status = await heartbeat(agent, port, tokens[n % tokens.length]!, body);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    },
    { concurrency: CONCURRENCY, seconds: SECONDS },
  );
  const cpu = await stopMeter();
  const client = process.cpuUsage(clientCpu);
  agent.destroy();
  return { heartbeats: calls, latencies, statuses, serverCpuMs: cpu.server, postgresCpuMs: cpu.postgres, clientCpuMs: (client.user + client.system) / 1000 };
}

function row(what: string, run: Run): Record<string, string | number> {
  const pct = (p: number) => percentile(run.latencies, p).toFixed(1);
  const per = (ms: number) => (ms / run.heartbeats).toFixed(2);
  return {
    what,
    sites: SITES,
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    heartbeats: run.heartbeats,
    "heartbeats/s": (run.heartbeats / SECONDS).toFixed(0),
    "p50 ms": pct(50),
    "p99 ms": pct(99),
    "max ms": run.latencies.at(-1)!.toFixed(1),
    "server CPU ms/hb": per(run.serverCpuMs),
    "postgres CPU ms/hb": per(run.postgresCpuMs),
    "client CPU ms/hb": per(run.clientCpuMs),
    statuses: [...run.statuses].map(([s, n]) => `${s}×${n}`).join(" "),
  };
}

async function main(): Promise<void> {
  const database = await createScratchDatabase("ferry_bench");
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-bench-hb-"));
  let ferry: Awaited<ReturnType<typeof startFerry>> | null = null;
  try {
    ferry = await startFerry(database.url, dataDir);
    const tokens = await registerSites(database.url);
    const baselineServer = await startBaseline();
    const baseline = await drive(baselineServer.port, baselineServer.pid, tokens, null).finally(() => baselineServer.stop());
    const idle = currentRssMiB(ferry.pid);
    const rss = sampleRss(ferry.pid);
    const run = await drive(ferry.port, ferry.pid, tokens, database.name);
    const peak = rss.stop();
    printTable([row("Ferry heartbeat (PostgreSQL)", run), row("baseline: bare node:http, parse body, 204", baseline)]);
    console.log(`heartbeats/s: ${(run.heartbeats / SECONDS).toFixed(0)} (target >= 2000)`);
    console.log(`ratio ferry/baseline heartbeats/s: ${(run.heartbeats / baseline.heartbeats).toFixed(2)}`);
    console.log(`peak server RSS during the heartbeats: ${peak.toFixed(0)} MiB (target < 200; idle ${idle.toFixed(0)} MiB)`);
    if (!run.statuses.has(204) || run.statuses.size !== 1) process.exitCode = 1;
  } finally {
    await ferry?.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
