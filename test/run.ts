/**
 * `npm test`: every *.test.ts under server/, agent/ and test/, with node's test runner.
 * The API suites (server/) run twice: on the embedded defaults (PGlite + directory) and on
 * the production profile (PostgreSQL + S3). The production profile needs PostgreSQL on
 * FERRY_TEST_DATABASE_URL (default 127.0.0.1:5432); without it the profile is skipped
 * with a message, unless FERRY_TEST_REQUIRE_ALL=1 (CI), where that is a failure.
 * Ends with the line `N passed, N failed`.
 */
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";

const root = path.resolve(import.meta.dirname, "..");
const requireAll = process.env.FERRY_TEST_REQUIRE_ALL === "1";
const only = process.argv.slice(2);

function findTests(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith(".test.ts"))
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
    .filter((file) => !file.includes("node_modules") && !file.startsWith("server/generated"))
    .filter((file) => !only.length || only.some((filter) => file.includes(filter)))
    .sort();
}

async function postgresReachable(): Promise<string | null> {
  const url = process.env.FERRY_TEST_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.end();
    return null;
  } catch (error) {
    return `${url}: ${(error as Error).message}`;
  }
}

interface Outcome {
  passed: number;
  failed: number;
}

function runNodeTests(label: string, files: string[], env: Record<string, string>): Promise<Outcome> {
  if (!files.length) return Promise.resolve({ passed: 0, failed: 0 });
  console.log(`\n=== ${label}: ${files.length} test files`);
  const args = ["--import", "tsx", "--test", "--test-reporter=spec", "--test-concurrency=2", "--test-timeout=900000", ...files];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
    // The spec reporter's summary ("ℹ pass N", "ℹ fail N", "ℹ cancelled N") comes before its
    // list of failures, which can be long: read every line as it passes, not a tail.
    const summary = { pass: 0, fail: 0, cancelled: 0 };
    let partial = "";
    child.stdout.on("data", (chunk: Buffer) => {
      process.stdout.write(chunk);
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) {
        const match = /^ℹ (pass|fail|cancelled) (\d+)$/.exec(line.trim());
        if (match) summary[match[1] as keyof typeof summary] = Number(match[2]);
      }
    });
    child.on("close", (code) => {
      // A cancelled test (a file that timed out) is a failure too.
      let failed = summary.fail + summary.cancelled;
      if (code !== 0 && failed === 0) failed = 1; // the runner itself failed (a crash, a file that did not load)
      resolve({ passed: summary.pass, failed });
    });
  });
}

const serverTests = findTests(path.join(root, "server"));
const otherTests = [...findTests(path.join(root, "agent")), ...findTests(path.join(root, "test"))];
const total: Outcome = { passed: 0, failed: 0 };
const add = (outcome: Outcome) => {
  total.passed += outcome.passed;
  total.failed += outcome.failed;
};

add(await runNodeTests("embedded profile (PGlite + directory)", [...serverTests, ...otherTests], { FERRY_TEST_PROFILE: "embedded" }));
const postgresProblem = await postgresReachable();
if (postgresProblem) {
  console.log(`\n=== production profile skipped: no PostgreSQL (${postgresProblem})`);
  if (requireAll) add({ passed: 0, failed: 1 });
} else {
  add(await runNodeTests("production profile (PostgreSQL + S3)", serverTests, { FERRY_TEST_PROFILE: "production" }));
}
console.log(`\n${total.passed} passed, ${total.failed} failed`);
process.exit(total.failed ? 1 : 0);
