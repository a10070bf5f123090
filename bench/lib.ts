/** Shared helpers for benchmarks: timing commands, sampling a process's RSS, printing tables, loads of concurrent calls. */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { type Agent, request } from "node:http";
import path from "node:path";

/** Extra Node.js flags for the Ferry processes a bench starts (BENCH_SERVER_NODE_ARGS), to compare a V8 setting with the default in one session. */
export function benchServerNodeArgs(): string[] {
  return (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
}

export function mb(bytes: number): number {
  return bytes / 1024 / 1024;
}

/** Runs a command to completion and returns its wall time in seconds. */
export function timed(command: string, args: string[], options: { input?: string } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command} ${args.join(" ")} exited ${code}: ${stderr}`));
      resolve(Number(process.hrtime.bigint() - started) / 1e9);
    });
    void options;
  });
}

/** Samples a process's resident set size every 20 ms until stopped; returns the peak in MiB. */
export function sampleRss(pid: number): { stop(): number } {
  let peak = 0;
  const read = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
      peak = Math.max(peak, kb / 1024);
    } catch {
      // process gone
    }
  };
  read();
  const timer = setInterval(read, 20);
  return {
    stop() {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

const CLOCK_TICKS_PER_S = 100;

/** The fields of `/proc/<pid>/stat` after the parenthesised command name (state first). */
function statFields(pid: number | "self"): string[] {
  return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
}

const ticksToMs = (ticks: string | undefined) => (Number(ticks) * 1000) / CLOCK_TICKS_PER_S;

/** CPU time a process has used so far, user and system, in ms; 0 when it is gone. */
export function processCpuTimes(pid: number): { user: number; system: number } {
  try {
    // utime and stime are the 12th and 13th of those fields.
    const fields = statFields(pid);
    return { user: ticksToMs(fields[11]), system: ticksToMs(fields[12]) };
  } catch {
    return { user: 0, system: 0 };
  }
}

/** CPU time (user + system) this process's finished, waited-for children have used so far, in ms: what the commands run by `timed` cost. */
export function childrenCpuMs(): number {
  // cutime and cstime, the 14th and 15th.
  const fields = statFields("self");
  return ticksToMs(fields[13]) + ticksToMs(fields[14]);
}

/** CPU time (user + system) a process has used so far, in ms; 0 when it is gone. */
export function processCpuMs(pid: number): number {
  const { user, system } = processCpuTimes(pid);
  return user + system;
}

export function currentRssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

export function have(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

export function printTable(rows: Array<Record<string, string | number>>): void {
  if (!rows.length) return;
  const columns = Object.keys(rows[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => "| " + cells.map((cell, i) => cell.padEnd(widths[i]!)).join(" | ") + " |";
  console.log(line(columns));
  console.log("|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|");
  for (const row of rows) console.log(line(columns.map((c) => String(row[c]))));
}

/**
 * Puts the machine in the same state before every timed step that writes `bytes` into
 * `directory`: nothing dirty left behind by the previous step, and `bytes` of page cache
 * freed just before, so the step's writes reuse those pages.
 *
 * Without the second part the cost of a buffered write depends on which free pages the
 * kernel hands out: on this kind of virtual machine, writing 1 GiB into the page cache took
 * from 0.14 s to 2.1 s of system time in back-to-back runs of the same program, and it was
 * cheap whenever a file of that size had just been deleted (most likely pages the guest
 * had not touched before cost the hypervisor a fault each; docs/BENCHMARKS.md, "Page
 * cache"). Whichever side of a comparison drew the fresh pages lost. A scratch file
 * written and deleted here touches them outside the timing.
 */
export function settleDisk(directory: string, bytes: number): void {
  const scratch = path.join(directory, `.bench-recycle-${process.pid}`);
  const mib = Math.max(1, Math.ceil(bytes / 1024 / 1024));
  try {
    execFileSync("dd", ["if=/dev/zero", `of=${scratch}`, "bs=1M", `count=${mib}`, "status=none"]);
  } finally {
    rmSync(scratch, { force: true });
  }
  execFileSync("sync");
}

export interface Load {
  /** Calls completed. */
  calls: number;
  seconds: number;
  /** Milliseconds per call, sorted ascending. */
  latencies: number[];
}

/** Runs `once` from `concurrency` clients for `seconds`; `once(n)` gets a running call number. */
export async function load(once: (n: number) => Promise<void>, options: { concurrency: number; seconds: number }): Promise<Load> {
  const latencies: number[] = [];
  let next = 0;
  const started = process.hrtime.bigint();
  const until = Date.now() + options.seconds * 1000;
  const client = async () => {
    while (Date.now() < until) {
      const n = next++;
      const t = process.hrtime.bigint();
      await once(n);
      latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, client));
  latencies.sort((a, b) => a - b);
  return { calls: latencies.length, seconds: Number(process.hrtime.bigint() - started) / 1e9, latencies };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The p-th percentile of ascending `sorted`. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** One request to a server on loopback with a bearer token, over `agent`; a JSON body when given. */
export function callLoopback(agent: Agent, port: number, token: string, method: string, urlPath: string, body?: unknown): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const headers: Record<string, string | number> = { authorization: `Bearer ${token}` };
  if (payload !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(payload) });
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path: urlPath, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(payload);
  });
}
