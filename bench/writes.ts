/**
 * Audited writes: BENCH_CONCURRENCY clients create customers (`POST /api/v1/customers`) for
 * BENCH_SECONDS against a real `ferry server`. Each is one transaction holding the change
 * and its hash-chained audit event, so this measures what that costs under contention for
 * the chain's lock.
 *
 * PostgreSQL profile: the baseline is the same work as hand-written SQL through `pg` on the
 * same database (insert the row, take the chain lock, read the last hash, insert the event,
 * in one transaction): what the database alone needs. The embedded profile (PGlite inside
 * the server) has no baseline outside the process; its rate is printed alone.
 * After each run the audit chain must verify and hold exactly one event per write.
 *
 *   npm run bench -- writes
 *
 * Each side first writes for BENCH_WARMUP_SECONDS, not counted: throughput in the first
 * seconds of a fresh database and process is up to 2× lower and varies run to run.
 *
 * Env: BENCH_SECONDS (10), BENCH_WARMUP_SECONDS (3), BENCH_CONCURRENCY (16), BENCH_PROFILES (postgresql,embedded),
 * FERRY_TEST_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/test).
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { CHAIN_LOCK_KEY, eventHash } from "../server/audit/audit.service.js";
import { createScratchDatabase, type ScratchDatabase } from "../test/support/postgres.js";
import { startFerryProcess } from "../test/support/process.js";
import { benchServerNodeArgs, callLoopback, currentRssMiB, load, percentile, printTable, sampleRss, type Load } from "./lib.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PROFILES = (process.env.BENCH_PROFILES ?? "postgresql,embedded").split(",") as Array<"postgresql" | "embedded">;

const rate = (run: Load) => run.calls / run.seconds;
const timedFor = (seconds: number) => ({ concurrency: CONCURRENCY, seconds });

/** The same writes as hand-written SQL: the row and its chained audit event in one transaction. */
async function sqlBaseline(pool: pg.Pool): Promise<Load> {
  const write = async () => {
    const client = await pool.connect();
    try {
      const name = `sql-${randomUUID()}`;
      await client.query("BEGIN");
      await client.query(`INSERT INTO "Customer" (id, name) VALUES ($1, $2)`, [randomUUID(), name]);
      await client.query("SELECT pg_advisory_xact_lock($1)", [CHAIN_LOCK_KEY]);
      const last = (await client.query<{ hash: string }>(`SELECT hash FROM "AuditEvent" ORDER BY seq DESC LIMIT 1`)).rows[0];
      const prevHash = last?.hash ?? "0".repeat(64);
      const at = new Date();
      const hash = eventHash(prevHash, { at, actor: "admin", action: "customer.create", targetType: "customer", target: name, details: null });
      await client.query(
        `INSERT INTO "AuditEvent" (at, actor, action, "targetType", target, "prevHash", hash) VALUES ($1, 'admin', 'customer.create', 'customer', $2, $3, $4)`,
        [at, name, prevHash, hash],
      );
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  };
  await load(write, timedFor(WARMUP_SECONDS));
  return load(write, timedFor(SECONDS));
}

async function runProfile(profile: "postgresql" | "embedded"): Promise<Record<string, string | number>> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-bench-writes-"));
  let database: ScratchDatabase | undefined;
  let ferry: Awaited<ReturnType<typeof startFerryProcess>> | undefined;
  try {
    if (profile === "postgresql") database = await createScratchDatabase("ferry_bench_writes");
    ferry = await startFerryProcess({ FERRY_DATA_DIR: dataDir, ...(database ? { DATABASE_URL: database.url } : {}), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn" }, ["server"], benchServerNodeArgs());
    const port = Number(new URL(ferry.url).port);
    const token = await ferry.login();
    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const audited = async () => {
      const response = await fetch(`${ferry!.url}/api/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
      const verified = (await response.json()) as { ok: boolean; count: number };
      if (!verified.ok) throw new Error(`the audit chain does not verify: ${JSON.stringify(verified)}`);
      return verified.count;
    };

    const pid = ferry.child.pid!;
    const idle = currentRssMiB(pid);
    const rss = sampleRss(pid);
    const write = async () => {
      const response = await callLoopback(agent, port, token, "POST", "/api/v1/customers", { name: `ferry-${randomUUID()}` });
      if (response.status !== 201) throw new Error(`POST /customers: ${response.status} ${response.body.slice(0, 300)}`);
    };
    await load(write, timedFor(WARMUP_SECONDS));
    const eventsBefore = await audited();
    const viaFerry = await load(write, timedFor(SECONDS));
    const peak = rss.stop();
    agent.destroy();
    const events = (await audited()) - eventsBefore;
    if (events !== viaFerry.calls) throw new Error(`${viaFerry.calls} writes left ${events} audit events`);

    let baseline: Load | undefined;
    if (database) {
      const pool = new pg.Pool({ connectionString: database.url, max: Math.min(CONCURRENCY, 20) });
      try {
        baseline = await sqlBaseline(pool);
      } finally {
        await pool.end();
      }
    }
    console.log(`${profile}: ${viaFerry.calls} audited writes in ${viaFerry.seconds.toFixed(1)} s, one audit event each, chain verified`);
    if (baseline) console.log(`ratio ferry/SQL writes/s: ${(rate(viaFerry) / rate(baseline)).toFixed(2)}`);
    else console.log(`${profile}: no SQL baseline (the database is inside the server process)`);
    return {
      profile,
      "ferry writes/s": rate(viaFerry).toFixed(0),
      "ferry p50 ms": percentile(viaFerry.latencies, 50).toFixed(1),
      "ferry p99 ms": percentile(viaFerry.latencies, 99).toFixed(1),
      "SQL writes/s": baseline ? rate(baseline).toFixed(0) : "-",
      "SQL p99 ms": baseline ? percentile(baseline.latencies, 99).toFixed(1) : "-",
      "idle RSS MiB": idle.toFixed(0),
      "peak RSS MiB": peak.toFixed(0),
    };
  } finally {
    await ferry?.stop();
    await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  console.log(`audited writes (POST /customers), ${CONCURRENCY} clients, ${SECONDS} s per side after ${WARMUP_SECONDS} s of warm-up`);
  const rows = [];
  for (const profile of PROFILES) rows.push(await runProfile(profile));
  printTable(rows);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
