/**
 * `ferry-agent run --server URL --token T --workdir DIR [--vars FILE] [--key PEM] [--once]`:
 * the online agent. Loop: long-poll heartbeat (version and inventory) → deploy action →
 * download with resume and verification → apply in-process (the same `applyBundle` as
 * `apply`) while streaming step events and log lines every ~500 ms → a final post with the
 * status and the apply report → heartbeat again. Network errors back off 1 s … 30 s.
 * No heartbeat is sent while applying: a heartbeat hands the running deployment out again.
 * Instead, from the download on, an empty events post goes out whenever nothing else was
 * posted for the keep-alive interval the server named, so a long silent step is not
 * mistaken for a stopped agent (the server's stall watchdog). Beside the posts, a watch on
 * the deployment is held open (a long poll the server answers the moment the deployment is
 * cancelled), so a cancel reaches a step that prints nothing at once.
 * That is also how a restarted agent gets back the deployment it was working on; what it
 * then does (replay, or only report) is decided in deployment-record.ts.
 * A 409 to any of those posts or to the watch (an operator cancelled the deployment, or it
 * finished elsewhere) aborts whatever is running: the download (its request is aborted; nothing is
 * applied, nothing more is posted, and the agent goes back to polling) or the apply
 * (which rolls back).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { applyBundle } from "./apply.js";
import { DeploymentRecords, outcomeOf } from "./deployment-record.js";
import { downloadBundle, DownloadRejected, type BundleRef } from "./download.js";
import { AGENT_VERSION, inventoryOf, type ApplyReport } from "./report.js";
import { WorkDir } from "./state.js";
import { readVarsFile, type VarsFile } from "./vars.js";
import { sendableJson } from "./wire-text.js";

export interface RunOptions {
  server: string;
  token: string;
  workdir: string;
  varsFile?: string;
  keyFile?: string;
  /** Handle one deploy action, then return (polls until one comes). */
  once?: boolean;
  /** Seconds each heartbeat may be held by the server. */
  waitSeconds?: number;
  signal: AbortSignal;
  say?: (message: string) => void;
}

interface DeployAction {
  type: "deploy";
  deploymentId: string;
  kind: string;
  release: { product: string; version: string };
  bundle: BundleRef;
  vars: VarsFile;
  /** How often to post even when there is nothing to say, so the server can tell a silent step from a stopped agent. */
  keepaliveMs?: number;
}

type AgentEvent =
  | { type: "step"; seq: number; component: string | null; name: string; status: string; message: string | null; at: string }
  | { type: "log"; stream: "stdout" | "stderr" | "agent"; line: string; at: string };

const MAX_LINE = 16_000;
const FLUSH_MS = 500;
/** Keep-alive interval when the server names none (servers before the stall watchdog). */
const DEFAULT_KEEPALIVE_MS = 60_000;
/** The longest a watch is held; the server caps it too (FERRY_AGENT_LONG_POLL_MS). */
const MAX_WATCH_MS = 25_000;
const ROLLBACK_STATUS: Record<string, string> = { started: "rolling_back", rolled_back: "rolled_back", failed: "rollback_failed", rollback_failed: "rollback_failed" };

/** The server refused the token or the request for good; retrying will not help. */
class Fatal extends Error {}
/** The server cancelled the deployment (409 deployment_cancelled / deployment_finished). */
class Cancelled extends Error {}
/** The server refused a request as bad input (400, 413, 422): sending it again cannot help. */
class Refused extends Error {}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });

export class OnlineAgent {
  private backoffMs = 0;
  private readonly say: (message: string) => void;

  constructor(private readonly opts: RunOptions) {
    this.say = opts.say ?? ((message) => process.stderr.write(`ferry-agent: ${message}\n`));
  }

  /** Returns the exit code: 0 stopped cleanly (or, with --once, the deployment succeeded). */
  async run(): Promise<number> {
    const { signal } = this.opts;
    while (!signal.aborted) {
      try {
        const action = await this.heartbeat();
        this.backoffMs = 0;
        if (!action) continue;
        const result = await this.deploy(action);
        if (this.opts.once) return result === "succeeded" ? 0 : 1;
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof Fatal) {
          this.say((error as Error).message);
          return 1;
        }
        await this.backoff(error as Error);
      }
    }
    this.say("stopped");
    return 0;
  }

  private async backoff(error: Error, signal = this.opts.signal): Promise<void> {
    this.backoffMs = Math.min(30_000, Math.max(1_000, this.backoffMs * 2));
    this.say(`${error.message}; retrying in ${this.backoffMs / 1000}s`);
    await sleep(this.backoffMs, signal);
  }

  private async request(method: string, route: string, body: unknown, signal = this.opts.signal): Promise<Response> {
    const response = await fetch(new URL(route, this.opts.server), {
      method,
      headers: { authorization: `Bearer ${this.opts.token}`, "content-type": "application/json" },
      body: sendableJson(body),
      signal,
    });
    if (response.status === 401 || response.status === 403) throw new Fatal(`the server refused the site token (${response.status}): ${await response.text()}`);
    return response;
  }

  private async heartbeat(): Promise<DeployAction | null> {
    const workdir = new WorkDir(this.opts.workdir);
    const inventory = inventoryOf(await workdir.readState());
    const wait = this.opts.waitSeconds ?? 30;
    const response = await this.request("POST", `/api/v1/agent/heartbeat?wait=${wait}`, { agentVersion: AGENT_VERSION, agentId: await workdir.agentId(), inventory });
    if (response.status === 204) return null;
    const text = await response.text();
    if (!response.ok) {
      if (response.status >= 400 && response.status < 500) throw new Fatal(`heartbeat answered ${response.status}: ${text}`);
      throw new Error(`heartbeat answered ${response.status}: ${text.slice(0, 500)}`);
    }
    const { action } = JSON.parse(text) as { action: DeployAction };
    if (action?.type !== "deploy") throw new Error(`unknown action ${JSON.stringify(action).slice(0, 200)}`);
    return action;
  }

  private async deploy(action: DeployAction): Promise<string> {
    const keepaliveMs = Math.max(FLUSH_MS, action.keepaliveMs ?? DEFAULT_KEEPALIVE_MS);
    const events = new EventStream(this, action.deploymentId, keepaliveMs);
    // Each watch is held for one keep-alive interval, so it also tells the server the agent is alive.
    const watch = new CancelWatch(this, action.deploymentId, Math.min(keepaliveMs, MAX_WATCH_MS) / 1000);
    try {
      return await this.deployReporting(action, events, watch);
    } finally {
      // However the deployment ended (even by a throw the run loop retries), its ticker and watch stop.
      events.stop();
      watch.stop();
    }
  }

  private async deployReporting(action: DeployAction, events: EventStream, watch: CancelWatch): Promise<string> {
    this.say(`deployment ${action.deploymentId}: ${action.kind} ${action.release.product} ${action.release.version}`);
    const records = new DeploymentRecords(new WorkDir(this.opts.workdir));
    const earlier = await records.earlierOutcome(action.deploymentId);
    if (earlier) {
      const line = `deployment ${action.deploymentId} was already applied here (${earlier.status}); reporting that result instead of applying again`;
      this.say(line);
      events.log("agent", line);
      if (!earlier.report) await events.replaySteps(new WorkDir(this.opts.workdir).logFile(earlier.applyId));
      await events.finish(earlier.status, earlier.error, earlier.report);
      await records.delivered(action.deploymentId);
      return earlier.status;
    }
    // From here on the server hears from us at least every keep-alive interval, the download included.
    events.start();
    // One signal for the download and the apply: the agent stopping, or the server answering
    // 409 to a post (cancelled, or finished elsewhere), which may come in the middle of either.
    const controller = new AbortController();
    const stop = () => controller.abort(new Error("the agent was asked to stop"));
    this.opts.signal.addEventListener("abort", stop, { once: true });
    const cancelled = () => controller.abort(new Error("the server cancelled the deployment"));
    events.onCancel = cancelled;
    watch.onCancel = (answer) => {
      this.say(`the server stopped the deployment: ${answer}`);
      cancelled();
    };
    watch.start();
    let report: ApplyReport;
    try {
      let bundleFile: string | null;
      try {
        bundleFile = await this.download(action, events, controller.signal);
      } catch (error) {
        if (!(error instanceof DownloadRejected)) throw error;
        // Stopped before the final post, whose 409 to the watch would read as a cancel.
        watch.stop();
        await events.finish("failed", error.message, undefined);
        return "failed";
      }
      if (this.opts.signal.aborted) throw this.opts.signal.reason;
      if (bundleFile === null || controller.signal.aborted) return this.stoppedByServer(action, controller.signal.reason as Error);
      const varsFile = await this.writeVars(action);
      try {
        try {
          await events.post({ events: [], status: "running" });
        } catch (error) {
          if (!(error instanceof Cancelled)) throw error;
          return this.stoppedByServer(action, error);
        }
        const applyId = await records.starting(action.deploymentId);
        report = await applyBundle({
          bundle: bundleFile,
          workdir: this.opts.workdir,
          varsFile,
          keyFile: this.opts.keyFile,
          signal: controller.signal,
          applyId,
          out: (line) => {
            process.stdout.write(line);
            events.line(line);
          },
        });
        await records.ended(action.deploymentId, applyId, report);
      } finally {
        await rm(varsFile, { force: true });
      }
    } finally {
      this.opts.signal.removeEventListener("abort", stop);
      watch.stop();
    }
    const { status, error, report: sent } = outcomeOf(report);
    await events.finish(status, error, sent);
    await records.delivered(action.deploymentId);
    this.say(`deployment ${action.deploymentId} ${status}`);
    return status;
  }

  /**
   * Downloads the deployment's bundle, retrying what a retry may fix (a dropped connection
   * resumes with Range). Resolves to the verified file, or to null when the server stopped
   * the deployment (`signal` aborted by a 409 to a keep-alive): the request in flight is
   * aborted and only the `.partial` file stays, which download.ts resumes and verifies
   * like any interrupted transfer. Throws DownloadRejected, and whatever stopped it when
   * the agent itself is stopping.
   */
  private async download(action: DeployAction, events: EventStream, signal: AbortSignal): Promise<string | null> {
    const say = (line: string) => {
      this.say(line);
      events.log("agent", line);
    };
    for (;;) {
      try {
        if (signal.aborted) throw signal.reason;
        return await downloadBundle(this.opts.server, this.opts.token, this.opts.workdir, action.bundle, signal, say);
      } catch (error) {
        if (this.opts.signal.aborted) throw error;
        if (signal.aborted) {
          this.say(`bundle ${action.bundle.id}: download abandoned, the server stopped deployment ${action.deploymentId}`);
          return null;
        }
        if (error instanceof DownloadRejected) throw error;
        await this.backoff(error as Error, signal);
      }
    }
  }

  /** The server answered 409 before anything was applied: it takes no further post about this deployment, and expects none. */
  private stoppedByServer(action: DeployAction, reason: Error): string {
    this.say(`deployment ${action.deploymentId}: ${reason.message}; nothing was applied, back to polling`);
    return "cancelled";
  }

  /** The site's variables for this deployment (secrets included), readable by us only, removed after the apply. */
  private async writeVars(action: DeployAction): Promise<string> {
    const local = await readVarsFile(this.opts.varsFile);
    const merged: VarsFile = {
      vars: { ...local.vars, ...action.vars.vars },
      components: { ...local.components, ...action.vars.components },
      site: { ...local.site, ...action.vars.site },
    };
    const dir = path.join(this.opts.workdir, "run");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const file = path.join(dir, `${randomUUID()}.vars.json`);
    await writeFile(file, JSON.stringify(merged), { mode: 0o600 });
    return file;
  }

  /** Posts to the deployment's events route; 409 means it was cancelled or finished elsewhere. */
  async postEvents(deploymentId: string, body: unknown): Promise<void> {
    const response = await this.request("POST", `/api/v1/agent/deployments/${deploymentId}/events`, body, AbortSignal.timeout(30_000));
    if (response.status === 409) throw new Cancelled(await response.text());
    if (response.status === 400 || response.status === 413 || response.status === 422) throw new Refused(`events answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
    if (!response.ok) throw new Error(`events answered ${response.status}: ${(await response.text()).slice(0, 500)}`);
  }

  /**
   * Holds a watch on the deployment for up to `holdSeconds` (POST …/watch, a long poll):
   * `cancelled` with the server's answer when it says 409, `running` when the hold ended,
   * `unsupported` from a server without the route (the keep-alives still bring a cancel).
   */
  async watchDeployment(deploymentId: string, holdSeconds: number, signal: AbortSignal): Promise<{ outcome: "running" | "unsupported" } | { outcome: "cancelled"; answer: string }> {
    const deadline = AbortSignal.timeout(holdSeconds * 1000 + 30_000);
    const response = await this.request("POST", `/api/v1/agent/deployments/${deploymentId}/watch?wait=${holdSeconds}`, {}, AbortSignal.any([signal, deadline]));
    const text = await response.text();
    if (response.status === 409) return { outcome: "cancelled", answer: text };
    if (response.status === 404) return { outcome: "unsupported" };
    if (!response.ok) throw new Error(`watch answered ${response.status}: ${text.slice(0, 500)}`);
    return { outcome: "running" };
  }

  retryDelay(error: Error): Promise<void> {
    return this.backoff(error);
  }

  sayLine(message: string): void {
    this.say(message);
  }
}

/** The step transition an apply log event is, if any (a rollback maps to the server's rollback statuses). */
function stepTransition(event: Record<string, unknown>): AgentEvent | null {
  const status = event.event === "step" ? String(event.status) : event.event === "rollback" ? ROLLBACK_STATUS[String(event.status)] : undefined;
  if (!status || typeof event.seq !== "number" || typeof event.step !== "string") return null;
  const message = typeof event.error === "string" ? event.error.slice(0, 4_000) : null;
  const at = typeof event.ts === "string" ? event.ts : new Date().toISOString();
  return { type: "step", seq: event.seq, component: typeof event.component === "string" ? event.component : null, name: event.step.slice(0, 300), status, message, at };
}

/**
 * Keeps a watch open on a running deployment, one hold after another, until stopped or the
 * server answers that the deployment was cancelled (or ended elsewhere). Network errors are
 * retried after 1 s … 30 s; a refused token or a server without the route ends the watch,
 * and the event posts carry on as before.
 */
class CancelWatch {
  private readonly stopped = new AbortController();
  onCancel: (answer: string) => void = () => undefined;

  constructor(
    private readonly agent: OnlineAgent,
    private readonly deploymentId: string,
    private readonly holdSeconds: number,
  ) {}

  start(): void {
    void this.loop();
  }

  stop(): void {
    this.stopped.abort();
  }

  private async loop(): Promise<void> {
    let retryMs = 1_000;
    while (!this.stopped.signal.aborted) {
      try {
        const held = await this.agent.watchDeployment(this.deploymentId, this.holdSeconds, this.stopped.signal);
        if (this.stopped.signal.aborted || held.outcome === "unsupported") return;
        if (held.outcome === "cancelled") return this.onCancel(held.answer);
        retryMs = 1_000;
      } catch (error) {
        if (this.stopped.signal.aborted || error instanceof Fatal) return;
        await sleep(retryMs, this.stopped.signal);
        retryMs = Math.min(30_000, retryMs * 2);
      }
    }
  }
}

/** Buffers step events and log lines and posts them in order, one request at a time, every ~500 ms. */
class EventStream {
  private pending: AgentEvent[] = [];
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> = Promise.resolve();
  private cancelled = false;
  private lastPostAt = Date.now();
  onCancel: () => void = () => undefined;

  constructor(
    private readonly agent: OnlineAgent,
    private readonly deploymentId: string,
    private readonly keepaliveMs: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  log(stream: "stdout" | "stderr" | "agent", line: string): void {
    this.pending.push({ type: "log", stream, line: line.slice(0, MAX_LINE), at: new Date().toISOString() });
  }

  /** One JSON line from the apply log: a log line always, and a step transition when it is one. */
  line(raw: string): void {
    const text = raw.trimEnd();
    let event: Record<string, unknown>;
    try {
      event = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.log("agent", text);
    }
    if (event.event === "output" && (event.stream === "stdout" || event.stream === "stderr")) return this.log(event.stream, String(event.line ?? ""));
    this.log("agent", text);
    const step = stepTransition(event);
    if (step) this.pending.push(step);
  }

  /**
   * The step transitions of an apply log file, without its lines: for an apply that ended
   * while its events could not be delivered and whose report was lost with the process, so
   * the server's step list ends as the apply did. Lines the server may already have are
   * not sent twice; the file stays in the work directory for the rest.
   */
  async replaySteps(logFile: string): Promise<void> {
    const text = await readFile(logFile, "utf8").catch(() => "");
    for (const raw of text.split("\n")) {
      let event: Record<string, unknown>;
      try {
        event = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        continue; // blank, or the torn last line of a killed process
      }
      const step = stepTransition(event);
      if (step) this.pending.push(step);
    }
  }

  async post(body: unknown): Promise<void> {
    await this.agent.postEvents(this.deploymentId, body);
    this.lastPostAt = Date.now();
  }

  /** Posts what is pending; with nothing pending, an empty post once per keep-alive interval. */
  private flush(): Promise<void> {
    this.inFlight = this.inFlight.then(async () => {
      if (this.cancelled) return;
      if (!this.pending.length && Date.now() - this.lastPostAt < this.keepaliveMs) return;
      const batch = this.pending.splice(0, 5_000);
      try {
        await this.post({ events: batch });
      } catch (error) {
        if (error instanceof Cancelled) {
          this.cancelled = true;
          this.agent.sayLine(`the server stopped the deployment: ${error.message}`);
          return this.onCancel();
        }
        if (error instanceof Refused) {
          // Retrying what the server refused would hold back everything after it, final status included.
          this.agent.sayLine(`the server refused ${batch.length} deployment event(s); they are only in the local apply log: ${error.message}`);
          return;
        }
        // Keep the batch for the next tick; progress is not lost to a dropped connection.
        this.pending.unshift(...batch);
      }
    });
    return this.inFlight;
  }

  /** Stops the ticker and posts what is left with the final status, retrying network errors. */
  async finish(status: string, error: string | undefined, report: ApplyReport | undefined): Promise<void> {
    this.stop();
    await this.inFlight;
    for (let attempt = 0; ; attempt++) {
      try {
        const events = this.pending.slice(0, 5_000);
        const last = events.length === this.pending.length;
        await this.post(last ? { events, status, error: error?.slice(0, 4_000), report } : { events });
        this.pending.splice(0, events.length);
        if (last) return;
      } catch (err) {
        if (err instanceof Cancelled) return this.agent.sayLine(`final status not recorded: ${err.message}`);
        if (err instanceof Refused && this.pending.length) {
          // Send the final status without the events the server will not take.
          this.agent.sayLine(`the server refused ${this.pending.length} deployment event(s); sending the final status without them: ${err.message}`);
          this.pending = [];
          continue;
        }
        if (attempt >= 8) throw err;
        await this.agent.retryDelay(err as Error);
      }
    }
  }
}
