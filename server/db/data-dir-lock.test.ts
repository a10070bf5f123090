/**
 * The embedded database's lock: one holder at a time, a dead holder's lock taken over, a
 * release that never removes someone else's lock. The two-server case runs as real
 * processes in test/e2e/start-up.test.ts.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { processStartTime, processState } from "../../agent/process-id.js";
import { DatabaseInUseError, lockEmbeddedDatabase } from "./data-dir-lock.js";

const dir = mkdtempSync(path.join(tmpdir(), "ferry-lock-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const lockFile = () => path.join(dir, `db-${++n}.lock`);

/** The pid of a process that has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

test("a second open is refused while the first holds the lock, and allowed after its release", () => {
  const file = lockFile();
  const release = lockEmbeddedDatabase("/data/db", file);
  assert.throws(
    () => lockEmbeddedDatabase("/data/db", file),
    (error: unknown) => error instanceof DatabaseInUseError && error.holder.pid === process.pid && /in use by process \d+ .*remove .*\.lock/.test(error.message),
  );
  release();
  assert.ok(!existsSync(file));
  lockEmbeddedDatabase("/data/db", file)();
});

test("a lock whose holder is gone (killed, crashed) is taken over", () => {
  const file = lockFile();
  writeFileSync(file, JSON.stringify({ pid: deadPid(), host: hostname(), started: "1", token: "dead", since: "then" }));
  const release = lockEmbeddedDatabase("/data/db", file);
  assert.equal(JSON.parse(readFileSync(file, "utf8")).pid, process.pid);
  release();
});

test("a live pid with another start time is a reused pid, not the holder", () => {
  const file = lockFile();
  writeFileSync(file, JSON.stringify({ pid: process.pid, host: hostname(), started: "not-my-start-time", token: "old", since: "then" }));
  lockEmbeddedDatabase("/data/db", file)();
});

test("a holder on another host cannot be checked and counts as alive", () => {
  const file = lockFile();
  writeFileSync(file, JSON.stringify({ pid: deadPid(), host: "elsewhere.example", started: null, token: "remote", since: "then" }));
  assert.throws(() => lockEmbeddedDatabase("/data/db", file), DatabaseInUseError);
});

test("an empty lock file is someone starting (refused) until it is old, then left over from a crash (taken)", () => {
  const file = lockFile();
  writeFileSync(file, "");
  assert.throws(() => lockEmbeddedDatabase("/data/db", file), DatabaseInUseError);
  const old = new Date(Date.now() - 60_000);
  utimesSync(file, old, old);
  lockEmbeddedDatabase("/data/db", file)();
});

test("a release does not remove a lock that another process has taken since", () => {
  const file = lockFile();
  const release = lockEmbeddedDatabase("/data/db", file);
  const theirs = JSON.stringify({ pid: process.pid, host: hostname(), started: null, token: "theirs", since: "now" });
  writeFileSync(file, theirs);
  release();
  assert.equal(readFileSync(file, "utf8"), theirs);
});

test("a holder killed but not yet reaped (a zombie) is gone", () => {
  const file = lockFile();
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  const started = processStartTime(child.pid!);
  writeFileSync(file, JSON.stringify({ pid: child.pid, host: hostname(), started, token: "killed", since: "now" }));
  assert.throws(() => lockEmbeddedDatabase("/data/db", file), DatabaseInUseError, "alive: refused");
  process.kill(child.pid!, "SIGKILL");
  // Waited for synchronously, so Node cannot reap it in between: a zombie, as a server the
  // test harness just killed can be when its replacement starts.
  const deadline = Date.now() + 5_000;
  while (processState(child.pid!) !== "Z" && Date.now() < deadline);
  lockEmbeddedDatabase("/data/db", file)();
});
