/**
 * Identifying a process across agent runs: a pid alone may be reused after a crash, so it
 * is paired with the process's start time (field 22 of /proc/<pid>/stat, in clock ticks
 * since boot). Without /proc (not Linux) only the pid is compared.
 */
import { readFileSync } from "node:fs";

export interface ProcessId {
  pid: number;
  startTime: string | null;
}

/** Fields 3 onwards of /proc/<pid>/stat, or null without such a process (or without /proc). */
function statFields(pid: number): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: split after the last ")".
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

export interface ProcessStat {
  /** The state letter: R, S, D, Z for a zombie not yet reaped, … */
  state: string;
  /** Start time in clock ticks since boot. */
  startTime: string;
}

/** State and start time of a process, or null when there is none (or no /proc). */
export function processStat(pid: number): ProcessStat | null {
  const fields = statFields(pid);
  return fields ? { state: fields[0]!, startTime: fields[19]! } : null;
}

export function processStartTime(pid: number): string | null {
  return processStat(pid)?.startTime ?? null;
}

export function processState(pid: number): string | null {
  return processStat(pid)?.state ?? null;
}

export function currentProcess(): ProcessId {
  return { pid: process.pid, startTime: processStartTime(process.pid) };
}

export function isAlive(id: ProcessId): boolean {
  try {
    process.kill(id.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  if (id.startTime === null) return true;
  const now = processStartTime(id.pid);
  return now === null || now === id.startTime;
}
