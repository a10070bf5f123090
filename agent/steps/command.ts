/**
 * Runs a shell command the way every step does: `/bin/sh -c`, in its own process group
 * (so a timeout, a cancel or crash recovery can stop the whole tree it starts), output
 * streamed line by line, killed with SIGTERM then SIGKILL when the time is up.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { processStartTime, type ProcessId } from "../process-id.js";

export interface CommandOptions {
  cwd: string;
  env: Record<string, string>;
  /** Seconds; none by default. */
  timeout?: number;
  signal?: AbortSignal;
  output(stream: "stdout" | "stderr", line: string): void;
  onStart?(id: ProcessId): Promise<void> | void;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** The last lines of stderr, for an error message. */
  stderrTail: string[];
  /** Why the command was stopped before it ended (the abort signal's reason), if it was. */
  stoppedBy?: string;
}

const KILL_GRACE_MS = 5000;
const OUTPUT_GRACE_MS = 1000;

export async function runCommand(command: string, options: CommandOptions): Promise<CommandResult> {
  const child = spawn("/bin/sh", ["-c", command], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stderrTail: string[] = [];
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject);
    // A command that starts a daemon without redirecting its output leaves the pipes open:
    // wait briefly for the rest of the output after exit, then stop reading.
    child.once("exit", (code, signal) => {
      const finish = () => resolve({ code, signal });
      const grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, OUTPUT_GRACE_MS);
      child.once("close", () => {
        clearTimeout(grace);
        finish();
      });
    });
  });
  // Read output before anything is awaited: a quick command can exit while onStart writes
  // the journal, and the post-exit grace timer would then destroy unread pipes.
  createInterface({ input: child.stdout }).on("line", (line) => options.output("stdout", line));
  createInterface({ input: child.stderr }).on("line", (line) => {
    stderrTail.push(line);
    if (stderrTail.length > 5) stderrTail.shift();
    options.output("stderr", line);
  });
  if (child.pid !== undefined) await options.onStart?.({ pid: child.pid, startTime: processStartTime(child.pid) });

  let timedOut = false;
  let escalation: NodeJS.Timeout | undefined;
  const stop = () => {
    killGroup(child.pid, "SIGTERM");
    escalation = setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS);
    escalation.unref();
  };
  const timer = options.timeout
    ? setTimeout(() => {
        timedOut = true;
        stop();
      }, options.timeout * 1000)
    : undefined;
  let stoppedBy: string | undefined;
  const onAbort = () => {
    const reason: unknown = options.signal?.reason;
    stoppedBy = reason instanceof Error ? reason.message : String(reason);
    stop();
  };
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const result = await done;
    return { ...result, timedOut, stderrTail, ...(stoppedBy !== undefined ? { stoppedBy } : {}) };
  } finally {
    clearTimeout(timer);
    clearTimeout(escalation);
    options.signal?.removeEventListener("abort", onAbort);
  }
}

export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

export function describeFailure(result: CommandResult, timeout?: number): string {
  if (result.timedOut) return `timed out after ${timeout}s and was killed`;
  if (result.stoppedBy !== undefined) return `was stopped: ${result.stoppedBy}`;
  const why = result.signal ? `was killed by ${result.signal}` : `exited with status ${result.code}`;
  return result.stderrTail.length ? `${why}: ${result.stderrTail.join(" | ")}` : why;
}
