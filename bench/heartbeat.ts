/**
 * Agent heartbeats at scale (issue 5): 10,000 registered agent sites on PostgreSQL (rows
 * inserted directly, tokens stored hashed as the server does), a Ferry server in its own
 * process, and a client driving real HTTP heartbeats on loopback with bounded
 * concurrency for a fixed duration. `?wait=0` makes each heartbeat non-blocking (no long
 * poll), so the number measured is the server's work per heartbeat: token lookup, the
 * site update, the work lookup and the audit event the route table writes.
 *
 * Env: BENCH_SITES (10000), BENCH_SECONDS (20), BENCH_CONCURRENCY (64),
 * FERRY_TEST_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/test).
 */
import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Agent, request } from "node:http";
import pg from "pg";
import { hashOpaqueToken, newOpaqueToken, SITE_TOKEN_PREFIX } from "../server/auth/opaque-token.js";
import { printTable } from "./lib.js";

const SITES = Number(process.env.BENCH_SITES ?? 10_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 64);
const root = path.resolve(import.meta.dirname, "..");
const baseUrl = process.env.FERRY_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `ferry_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

async function startFerry(databaseUrl: string, dataDir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "server/cli/main.ts"), "server"], {
    cwd: root,
    env: { ...process.env, PORT: String(port), HOST: "127.0.0.1", DATABASE_URL: databaseUrl, FERRY_DATA_DIR: dataDir, FERRY_ADMIN_PASSWORD: "bench-password", LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn", FERRY_CATALOG_DIR: path.join(root, "catalog") },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Server errors (pino level 50+) are shown; the rest of its log is not.
  child.stdout!.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (/"level":(50|60)/.test(line)) console.error(line.slice(0, 2000));
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ferry exited with ${child.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error("ferry did not become ready");
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    port,
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

async function main(): Promise<void> {
  const database = await freshDatabase();
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-bench-hb-"));
  let ferry: Awaited<ReturnType<typeof startFerry>> | null = null;
  try {
    ferry = await startFerry(database.url, dataDir);
    const tokens = await registerSites(database.url);
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const body = JSON.stringify({ agentVersion: "0.1.0", inventory: { components: [{ name: "orders-api", version: "2.4.0" }], host: { os: "linux", cpus: 8 } } });
    const latencies: number[] = [];
    const statuses = new Map<number, number>();
    let next = 0;
    const until = Date.now() + SECONDS * 1000;
    const worker = async () => {
      while (Date.now() < until) {
        const token = tokens[next++ % tokens.length]!;
        const started = process.hrtime.bigint();
        const status = await heartbeat(agent, ferry!.port, token, body);
        latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    agent.destroy();
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!.toFixed(1);
    printTable([
      {
        sites: SITES,
        concurrency: CONCURRENCY,
        seconds: SECONDS,
        heartbeats: latencies.length,
        "heartbeats/s": (latencies.length / SECONDS).toFixed(0),
        "p50 ms": pct(50),
        "p99 ms": pct(99),
        "max ms": latencies.at(-1)!.toFixed(1),
        statuses: [...statuses].map(([s, n]) => `${s}×${n}`).join(" "),
      },
    ]);
    if (!statuses.has(204) || statuses.size !== 1) process.exitCode = 1;
  } finally {
    await ferry?.stop();
    await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
