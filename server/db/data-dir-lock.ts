/**
 * One process at a time on an embedded database.
 *
 * PGlite is PostgreSQL running inside the process that opens it, without the postmaster
 * that makes PostgreSQL refuse a second server on one data directory (`postmaster.pid`).
 * Two Ferry processes started on one FERRY_DATA_DIR each ran their own PostgreSQL over the
 * same files, both answered, and the directory was corrupt afterwards (PGlite aborted on
 * every later open). So whoever opens the embedded database first writes a lock file
 * beside it naming itself, and everyone else is refused until it closes or dies.
 *
 * A lock left by a process that is gone (killed, crashed) is taken over: the holder is
 * checked by pid and, where /proc tells, by the pid's start time, so a pid reused by an
 * unrelated process does not keep the database locked. A holder on another host (a data
 * directory on a shared file system) cannot be checked and counts as alive.
 */
import { randomUUID } from "node:crypto";
import { readFileSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { processStartTime, processStat } from "../../agent/process-id.js";

interface Holder {
  pid: number;
  host: string;
  /** The process's start time in clock ticks since boot (/proc/<pid>/stat), or null where there is no /proc. */
  started: string | null;
  token: string;
  since: string;
}

export class DatabaseInUseError extends Error {
  constructor(
    readonly directory: string,
    readonly lockFile: string,
    readonly holder: Pick<Holder, "pid" | "host" | "since">,
  ) {
    super(
      `the embedded database in ${directory} is in use by process ${holder.pid} on ${holder.host} (since ${holder.since}). ` +
        `Stop that process first; to run several Ferry processes, use PostgreSQL (DATABASE_URL). ` +
        `If no such process is running, remove ${lockFile}.`,
    );
    this.name = "DatabaseInUseError";
  }
}

/** Takes the lock or throws DatabaseInUseError; returns the release (idempotent, also run at process exit). */
export function lockEmbeddedDatabase(directory: string, lockFile: string): () => void {
  const me: Holder = { pid: process.pid, host: hostname(), started: processStartTime(process.pid), token: randomUUID(), since: new Date().toISOString() };
  // Two rounds: the second follows the removal of a stale lock, which another process
  // starting at the same moment may have replaced with its own in between.
  for (let round = 0; round < 2; round++) {
    try {
      writeFileSync(lockFile, JSON.stringify(me), { flag: "wx", mode: 0o644 });
      return releaseFor(lockFile, me.token);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const holder = readHolder(lockFile);
    if (holder === "gone") continue;
    if (holder === "unreadable") {
      // Created but not written yet (a process starting right now), or left empty by one
      // that died between the two: only the second gets old.
      if (Date.now() - modifiedAt(lockFile) < UNREADABLE_GRACE_MS) throw new DatabaseInUseError(directory, lockFile, UNKNOWN_HOLDER);
      removeFile(lockFile);
      continue;
    }
    if (isAlive(holder)) throw new DatabaseInUseError(directory, lockFile, holder);
    removeIfHeldBy(lockFile, holder.token);
  }
  const holder = readHolder(lockFile);
  throw new DatabaseInUseError(directory, lockFile, typeof holder === "object" ? holder : UNKNOWN_HOLDER);
}

const UNREADABLE_GRACE_MS = 5_000;
const UNKNOWN_HOLDER = { pid: 0, host: "an unknown host", since: "unknown" };

function releaseFor(lockFile: string, token: string): () => void {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    process.off("exit", release);
    removeIfHeldBy(lockFile, token);
  };
  process.on("exit", release);
  return release;
}

/** Removes the lock only while it is still the one `token` wrote: never another process's. */
function removeIfHeldBy(lockFile: string, token: string): void {
  const holder = readHolder(lockFile);
  if (typeof holder !== "object" || holder.token !== token) return;
  removeFile(lockFile);
}

function removeFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
}

function modifiedAt(file: string): number {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function readHolder(lockFile: string): Holder | "gone" | "unreadable" {
  let text: string;
  try {
    text = readFileSync(lockFile, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return "gone";
    throw error;
  }
  try {
    const holder = JSON.parse(text) as Holder;
    return Number.isSafeInteger(holder.pid) && typeof holder.token === "string" ? holder : "unreadable";
  } catch {
    return "unreadable";
  }
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const stat = processStat(holder.pid);
  // A killed process stays a zombie until its parent reaps it: gone all the same.
  if (stat?.state === "Z" || stat?.state === "X") return false;
  return holder.started === null || !stat || stat.startTime === holder.started;
}
