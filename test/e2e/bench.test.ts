/**
 * The benchmarks run in CI on small sizes, to prove they still work (issue 7): each one
 * through `bench/run.ts <name>` as its own process tree (a real `ferry server` inside),
 * which must exit 0 and print its ratio and target lines and its results as numbers.
 * Full sizes are for a quiet machine: `npm run bench`.
 * Needs PostgreSQL (FERRY_TEST_DATABASE_URL) for `heartbeat`, `list`, `writes` and the production
 * profile of `bundle` (which also needs Redis, FERRY_TEST_REDIS_URL); nginx is optional
 * (the upload bench prints its nginx ratios only when nginx is installed).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");
const NUMBER = String.raw`-?\d+(?:\.\d+)?`;

interface Run {
  code: number | null;
  output: string;
}

/** Runs one benchmark with small sizes; kills its whole process group if it overruns. */
function runBench(name: string, env: Record<string, string>, timeoutMs = 240_000): Promise<Run> {
  const { DATABASE_URL: _db, FERRY_DATA_DIR: _dir, ...inherited } = process.env;
  const child = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench/run.ts"), name], {
    cwd: root,
    env: { ...inherited, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      output += `\n[test] ${name} still running after ${timeoutMs / 1000} s: killed`;
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The rows of the markdown tables bench/lib.ts printTable writes, keyed by column. */
function tables(output: string): Array<Record<string, string>> {
  const rows: Array<Record<string, string>> = [];
  let header: string[] | null = null;
  for (const line of output.split("\n")) {
    if (!line.startsWith("|")) {
      header = null;
      continue;
    }
    const cells = line.split("|").slice(1, -1).map((cell) => cell.trim());
    if (!header) header = cells;
    else if (!cells.every((cell) => /^-+$/.test(cell))) rows.push(Object.fromEntries(header.map((column, i) => [column, cells[i] ?? ""])));
  }
  return rows;
}

/** The number on the line that starts with `prefix` (after the prefix, before anything else). */
function numberAfter(output: string, prefix: string): number {
  const line = output.split("\n").find((l) => l.startsWith(prefix));
  assert.ok(line, `no line starting with ${JSON.stringify(prefix)} in:\n${output}`);
  const match = new RegExp(`^${NUMBER}`).exec(line.slice(prefix.length).trim());
  assert.ok(match, `no number after ${JSON.stringify(prefix)}: ${line}`);
  return Number(match[0]);
}

/** A bench's summary rows (a `what` column) apart from its per-round rows (a `round` column). */
function split(rows: Array<Record<string, string>>): { summary: Array<Record<string, string>>; rounds: Array<Record<string, string>> } {
  return { summary: rows.filter((row) => "what" in row), rounds: rows.filter((row) => "round" in row) };
}

function assertNumeric(rows: Array<Record<string, string>>, columns: string[], output: string): void {
  assert.ok(rows.length > 0, `no result table in:\n${output}`);
  for (const row of rows) {
    for (const column of columns) {
      const value = row[column];
      if (value === "-") continue; // a column that does not apply to this row
      assert.ok(value !== undefined && new RegExp(`^${NUMBER}$`).test(value) && Number.isFinite(Number(value)), `${column} = ${JSON.stringify(value)} in ${JSON.stringify(row)}`);
    }
  }
}

function assertClean(name: string, run: Run): void {
  assert.equal(run.code, 0, `${name} exited ${run.code}:\n${run.output}`);
  assert.doesNotMatch(run.output, /\bNaN\b|Infinity/, `${name} printed NaN or Infinity:\n${run.output}`);
}

describe("benchmarks on small sizes", { concurrency: 1 }, () => {
  test("upload: 8 MiB through ferry against sha256sum, cat (and nginx when installed), in alternating rounds after a warm-up", async () => {
    const run = await runBench("upload", { BENCH_BYTES: String(8 * 1024 * 1024), BENCH_IDLE_WAIT_MS: "1000", BENCH_ROUNDS: "2" });
    assertClean("upload", run);
    const { summary, rounds } = split(tables(run.output));
    assertNumeric(summary, ["MB/s", "peak RSS MiB"], run.output);
    assert.ok(summary.some((row) => row.what === "ferry first PUT of a fresh server (warm-up, not in a ratio)"), run.output);
    assert.deepEqual(rounds.map((row) => row.round), ["1", "2"], run.output);
    assertNumeric(rounds, ["nginx PUT MB/s", "ferry PUT MB/s", "nginx GET MB/s", "ferry GET MB/s"], run.output);
    assert.ok(numberAfter(run.output, "ratio upload ferry/sha256sum:") > 0);
    assert.ok(numberAfter(run.output, "peak server RSS during transfer:") > 0);
    assert.match(run.output, /peak server RSS during transfer: \d+ MiB \(target < 200\)/);
    assert.match(run.output, /server RSS 1 s after the transfers: \d+ MiB \(idle before: \d+ MiB\)/);
    if (!run.output.includes("nginx not installed")) {
      assert.deepEqual(rounds.map((row) => row.first), ["nginx", "ferry"], "the side that goes first alternates");
      assert.match(run.output, new RegExp(`ratio upload ferry/nginx: ${NUMBER} \\(target >= 0\\.6\\); rounds ${NUMBER}–${NUMBER}`));
      assert.match(run.output, new RegExp(`ratio download ferry/nginx: ${NUMBER} \\(target >= 0\\.5\\); rounds ${NUMBER}–${NUMBER}`));
    }
  });

  for (const [profile, builder] of [["embedded", "server"], ["production", "worker"]] as const) {
    test(`bundle, ${profile} profile: 8 MiB full bundle built by the ${builder} against GNU tar, and an incremental bundle`, async () => {
      const run = await runBench("bundle", { BENCH_PROFILE: profile, BENCH_BUNDLE_BYTES: String(8 * 1024 * 1024), BENCH_INCREMENTAL_BYTES: String(8 * 1024 * 1024), BENCH_ROUNDS: "2" });
      assertClean("bundle", run);
      const { summary: rows, rounds } = split(tables(run.output));
      assertNumeric(rows, ["MB/s", "seconds", "peak RSS MiB"], run.output);
      assert.ok(rows.some((row) => row.what === `ferry full bundle (POST → ready), built by the ${builder}, median`), run.output);
      assert.ok(rows.some((row) => row.what === "ferry first full bundle (warm-up, not in a ratio)"), run.output);
      assert.deepEqual(rounds.map((row) => [row.round, row.first]), [["1", "tar"], ["2", "ferry"]], run.output);
      assertNumeric(rounds, ["tar MB/s", "ferry MB/s", "ratio"], run.output);
      assert.match(run.output, new RegExp(`ratio ferry/GNU tar throughput: ${NUMBER} \\(target >= 0\\.8\\); rounds ${NUMBER}–${NUMBER}`));
      assert.ok(numberAfter(run.output, "ratio ferry/GNU tar throughput:") > 0);
      assert.ok(rows.some((row) => row.what === "reference: GNU tar cf, then openssl sha256 of it"), run.output);
      const hashedTarRatio = new RegExp(`; to tar then openssl sha256: (${NUMBER})`).exec(run.output);
      assert.ok(hashedTarRatio && Number(hashedTarRatio[1]) > 0, run.output);
      assert.ok(rows.some((row) => row.what === "reference: GNU tar cf, then sync of it"), run.output);
      const durableTarRatio = new RegExp(`; to tar then sync: (${NUMBER})`).exec(run.output);
      assert.ok(durableTarRatio && Number(durableTarRatio[1]) > 0, run.output);
      const ceiling = new RegExp(`ceiling: GNU tar's own CPU ${NUMBER} s \\+ 2 SHA-256 passes of (${NUMBER}) s = ${NUMBER} s per GiB; on \\d+ cores, all busy, at best \\d+ MB/s, ratio (${NUMBER})`).exec(run.output);
      assert.ok(ceiling && Number(ceiling[1]) > 0 && Number(ceiling[2]) > 0, run.output);
      assert.match(run.output, new RegExp(`CPU of the ${builder} process while building, per GiB: user ${NUMBER} s, system ${NUMBER} s`));
      const peaks = profile === "production" ? /peak RSS while building: server \d+ MiB, worker \d+ MiB \(target < 200\)/ : /peak RSS while building: server \d+ MiB \(target < 200\)/;
      assert.match(run.output, peaks);
      assert.match(run.output, new RegExp(`ratio to changed bytes ${NUMBER}`));
    });
  }

  test("heartbeat: 200 agent sites on PostgreSQL for 2 s", async () => {
    const run = await runBench("heartbeat", { BENCH_SITES: "200", BENCH_SECONDS: "2", BENCH_CONCURRENCY: "16" });
    assertClean("heartbeat", run);
    const rows = tables(run.output);
    assertNumeric(rows, ["sites", "heartbeats", "heartbeats/s", "p50 ms", "p99 ms"], run.output);
    assert.equal(rows[0]!.sites, "200");
    assert.ok(Number(rows[0]!["heartbeats/s"]) > 0);
    assert.match(rows[0]!.statuses!, /^204×\d+$/, "every heartbeat answered 204");
    assert.match(run.output, /peak server RSS during the heartbeats: \d+ MiB \(target < 200; idle \d+ MiB\)/);
    assert.ok(numberAfter(run.output, "peak server RSS during the heartbeats:") > 0);
  });

  test("list: 2,000 artifacts on PostgreSQL, each list against its SQL baseline", async () => {
    const run = await runBench("list", { BENCH_ARTIFACTS: "2000", BENCH_SECONDS: "0.15", BENCH_CONCURRENCY: "4" });
    assertClean("list", run);
    const rows = tables(run.output);
    const scenarios = rows.filter((row) => row.scenario !== undefined);
    assertNumeric(scenarios, ["ferry req/s", "ferry p50 ms", "ferry p99 ms", "SQL req/s", "SQL p50 ms", "SQL p99 ms", "ferry/SQL"], run.output);
    for (const name of ["artifacts: first page", "artifacts: deep keyset pages", "artifacts: ?component=", "releases: first page", "audit: first page", "sql-scripts: first page"]) {
      assert.ok(scenarios.some((row) => row.scenario === name), `no row for ${name}`);
      assert.ok(numberAfter(run.output, `ratio ferry/SQL req/s, ${name}:`) > 0);
    }
    assertNumeric(rows.filter((row) => row.via !== undefined), ["seconds", "pages/s", "p50 ms", "p99 ms"], run.output);
    assert.match(run.output, /keyset walk over all 2000 artifacts \(40 pages/);
    assert.ok(numberAfter(run.output, "ratio walk ferry/SQL throughput:") > 0);
    assert.ok(numberAfter(run.output, "ratio last/first tenth of the walk, ferry p50 per page:") > 0);
    assert.ok(numberAfter(run.output, "peak server RSS during the list load:") > 0);
  });

  test("writes: audited writes on both profiles for 1 s, each event in the chain, PostgreSQL against its SQL baseline", async () => {
    const run = await runBench("writes", { BENCH_SECONDS: "1", BENCH_WARMUP_SECONDS: "0.3", BENCH_CONCURRENCY: "4" });
    assertClean("writes", run);
    const rows = tables(run.output);
    assert.deepEqual(rows.map((row) => row.profile), ["postgresql", "embedded"]);
    assertNumeric(rows, ["ferry writes/s", "ferry p50 ms", "ferry p99 ms", "idle RSS MiB", "peak RSS MiB"], run.output);
    assertNumeric(rows.slice(0, 1), ["SQL writes/s", "SQL p99 ms"], run.output);
    assert.match(run.output, /postgresql: \d+ audited writes in [\d.]+ s, one audit event each, chain verified/);
    assert.match(run.output, /embedded: \d+ audited writes in [\d.]+ s, one audit event each, chain verified/);
    assert.ok(numberAfter(run.output, "ratio ferry/SQL writes/s:") > 0);
  });
});
