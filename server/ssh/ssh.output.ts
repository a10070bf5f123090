/**
 * Turns the remote agent's output into deployment progress. `ferry-agent apply` prints one
 * JSON object per line (agent/log.ts): `step` and `rollback` events become step
 * transitions, `output` events become the step's output lines; every line is also kept in
 * the deployment log. Lines are written in batches (every 250 ms or 200 lines), not one
 * database write per line.
 */
import { sendableText } from "../../agent/wire-text.js";
import type { AgentEvent } from "../deployments/deployments.schema.js";
import type { DeploymentProgress } from "../deployments/deployments.progress.js";

const FLUSH_MS = 250;
const FLUSH_LINES = 200;
const MAX_LINE = 16_384;

const STEP_STATUS: Record<string, string> = { started: "running", succeeded: "succeeded", failed: "failed", skipped: "skipped" };
const ROLLBACK_STATUS: Record<string, string> = { started: "rolling_back", rolled_back: "rolled_back", rollback_failed: "rollback_failed", failed: "rollback_failed" };

/** The deployment events one line of agent output stands for. */
export function eventsFromLine(stream: "stdout" | "stderr", raw: string): AgentEvent[] {
  // Output may hold NUL bytes or a cut surrogate pair, which PostgreSQL cannot store.
  const line = sendableText(raw.length > MAX_LINE ? `${raw.slice(0, MAX_LINE)}…` : raw);
  let parsed: Record<string, unknown> | null = null;
  if (stream === "stdout" && line.startsWith("{")) {
    try {
      parsed = JSON.parse(line, (_key, value: unknown) => (typeof value === "string" ? sendableText(value) : value)) as Record<string, unknown>;
    } catch {
      parsed = null;
    }
  }
  if (!parsed || typeof parsed.event !== "string") return [{ type: "log", stream, line }];
  const at = typeof parsed.ts === "string" && !Number.isNaN(Date.parse(parsed.ts)) ? new Date(parsed.ts).toISOString() : undefined;
  const seq = typeof parsed.seq === "number" && Number.isInteger(parsed.seq) && parsed.seq >= 0 ? parsed.seq : null;
  const component = typeof parsed.component === "string" ? parsed.component.slice(0, 100) : null;
  const name = typeof parsed.step === "string" ? parsed.step.slice(0, 300) : null;
  if (parsed.event === "output" && typeof parsed.line === "string") {
    const out = parsed.stream === "stderr" ? "stderr" : "stdout";
    return [{ type: "log", stream: out, line: sendableText(`${component ? `[${component}] ` : ""}${parsed.line}`.slice(0, MAX_LINE)), ...(at ? { at } : {}) }];
  }
  const events: AgentEvent[] = [{ type: "log", stream: "agent", line, ...(at ? { at } : {}) }];
  const table = parsed.event === "step" ? STEP_STATUS : parsed.event === "rollback" ? ROLLBACK_STATUS : null;
  const status = table && typeof parsed.status === "string" ? table[parsed.status] : undefined;
  if (seq !== null && name && status) {
    const message = typeof parsed.error === "string" ? parsed.error.slice(0, 4_000) : null;
    events.push({ type: "step", seq, component, name, status: status as never, message, ...(at ? { at } : {}) });
  }
  return events;
}

/** Collects events and writes them in order, in batches. */
export class ProgressWriter {
  private pending: AgentEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private failure: Error | null = null;

  constructor(
    private readonly progress: DeploymentProgress,
    private readonly deploymentId: string,
  ) {}

  add(events: AgentEvent[]): void {
    this.pending.push(...events);
    if (this.pending.length >= FLUSH_LINES) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  line(stream: "stdout" | "stderr" | "agent", line: string): void {
    this.add([{ type: "log", stream, line }]);
  }

  /** Writes everything added so far; rejects with the first write error. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) {
      this.writing = this.writing.then(() => this.progress.record(this.deploymentId, batch)).catch((error: Error) => {
        this.failure ??= error;
      });
    }
    return this.writing.then(() => {
      if (this.failure) throw this.failure;
    });
  }
}
