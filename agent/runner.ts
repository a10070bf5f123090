/**
 * Runs planned steps with the journal, and rolls them back. Every step is journaled as
 * `running` (with its rendered rollback) before it acts, and every built-in undo (a path
 * moved aside, SQL versions with undo scripts) is journaled before the change it undoes.
 *
 * Rollback, in reverse order of start: completed steps run their declared rollback; then
 * every started step (completed, failed or interrupted) has its built-in undos applied:
 * paths it wrote are deleted and what was there before is moved back. A failed or
 * interrupted step does not run its declared rollback: that undoes a step that finished.
 */
import { cp, lstat, mkdir, copyFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { exists } from "./fsutil.js";
import type { JournalStep, JournalWriter, Undo } from "./journal.js";
import type { ApplyLog } from "./log.js";
import type { BundleManifest } from "./manifest.js";
import { componentArtifacts, type ComponentPlan, type PlannedStep } from "./plan.js";
import { isAlive } from "./process-id.js";
import type { AgentState, WorkDir } from "./state.js";
import { killGroup } from "./steps/command.js";
import { executeStep, type StepEnvironment } from "./steps/index.js";
import { connectionUrl, runSqlUndo } from "./steps/sql.js";
import { StepError, type SimpleStep, type StepContext } from "./steps/types.js";

export interface StepResult {
  seq: number;
  component: string;
  pipeline: string;
  index: number;
  name: string;
  type: string;
  status: "succeeded" | "failed" | "skipped" | "rolled_back" | "rollback_failed";
  startedAt: string;
  finishedAt?: string;
  error?: string;
}

export class StepFailure extends Error {
  constructor(
    readonly result: StepResult,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Runner {
  readonly results: StepResult[] = [];
  /** Files written per component during this apply. */
  readonly written = new Map<string, Set<string>>();
  private readonly plans = new Map<string, ComponentPlan>();

  constructor(
    private readonly opts: {
      workdir: WorkDir;
      journal: JournalWriter;
      log: ApplyLog;
      manifest: BundleManifest;
      bundleDir: string;
      state: AgentState;
      signal: AbortSignal;
    },
  ) {}

  private get env(): StepEnvironment {
    // From the journal, so recovery of an interrupted apply records undo runs against that apply's bundle.
    const { bundleId, release } = this.opts.journal.journal;
    return { scope: {}, bundle: { id: bundleId, release: release.version } };
  }

  async runComponent(plan: ComponentPlan): Promise<void> {
    const { component } = plan;
    this.plans.set(component.name, plan);
    if (component.action === "install" || component.action === "upgrade") {
      await this.builtIn(plan, "stage", `stage ${component.name} ${component.version}`, (ctx) => this.stage(plan, ctx));
    }
    for (const planned of plan.steps) await this.step(plan, planned);
    if (component.action === "remove") await this.builtIn(plan, "remove", `remove ${component.name} files`, (ctx) => this.removeFiles(plan, ctx));
  }

  private async builtIn(plan: ComponentPlan, type: string, name: string, body: (ctx: StepContext) => Promise<void>): Promise<void> {
    await this.track(plan, { pipeline: "agent", index: 0, name, step: { type: "run", command: "" }, rollback: null }, type, body);
  }

  private step(plan: ComponentPlan, planned: PlannedStep): Promise<void> {
    return this.track(plan, planned, planned.step.type, (ctx) => executeStep(planned.step, ctx, { ...this.env, scope: plan.scope }));
  }

  private async track(plan: ComponentPlan, planned: PlannedStep, type: string, body: (ctx: StepContext) => Promise<void>): Promise<void> {
    const journal = this.opts.journal;
    const entry: JournalStep = {
      seq: journal.journal.steps.length + 1,
      component: plan.component.name,
      pipeline: planned.pipeline,
      index: planned.index,
      name: planned.name,
      type,
      status: "running",
      startedAt: new Date().toISOString(),
      undo: [],
      rollback: (planned.rollback as unknown as Record<string, unknown>) ?? null,
    };
    journal.journal.steps.push(entry);
    await journal.save();
    const result: StepResult = { seq: entry.seq, component: entry.component, pipeline: entry.pipeline, index: entry.index, name: entry.name, type, status: "succeeded", startedAt: entry.startedAt };
    this.results.push(result);
    const started = Date.now();
    this.opts.log.emit({ event: "step", status: "started", seq: entry.seq, component: entry.component, pipeline: entry.pipeline, step: entry.name, type });
    try {
      await body(this.context(plan, entry));
      entry.status = "succeeded";
    } catch (error) {
      entry.status = "failed";
      entry.error = (error as Error).message;
    }
    entry.finishedAt = result.finishedAt = new Date().toISOString();
    await journal.save();
    const durationMs = Date.now() - started;
    if (entry.status === "failed") {
      result.status = "failed";
      result.error = entry.error;
      this.opts.log.emit({ event: "step", status: "failed", seq: entry.seq, component: entry.component, step: entry.name, type, durationMs, error: entry.error });
      throw new StepFailure(result, "step_failed", `${entry.component}: step "${entry.name}" failed: ${entry.error}`);
    }
    this.opts.log.emit({ event: "step", status: "succeeded", seq: entry.seq, component: entry.component, step: entry.name, type, durationMs });
  }

  context(plan: ComponentPlan | null, entry: JournalStep): StepContext {
    const { workdir, journal, log } = this.opts;
    const name = entry.component;
    const base = { component: entry.component, seq: entry.seq };
    return {
      component: { name, version: plan?.component.version ?? "", dir: workdir.componentDir(name) },
      vars: plan?.vars ?? {},
      scratchDir: path.join(workdir.applyDir(journal.journal.applyId), "scratch", String(entry.seq)),
      signal: this.opts.signal,
      artifact: (artifactName) => {
        const found = plan?.artifacts.find((a) => a.name === artifactName);
        if (!found) throw new StepError("artifact_missing", `${name}: no artifact "${artifactName}" here`);
        return found;
      },
      database: (database) => {
        const declared = plan?.descriptor?.sql.find((d) => d.database === database);
        if (!plan || !declared) throw new StepError("sql_database_unknown", `${name} declares no database ${database}`);
        const bundled = this.opts.manifest.sql.find((d) => d.database === database);
        const scripts = (bundled?.scripts ?? []).filter((s) => s.component === name).map((s) => ({ ...s, file: path.join(this.opts.bundleDir, s.path) }));
        return { database, dialect: declared.dialect, connection: connectionUrl(database, declared.dialect, plan.vars), scripts };
      },
      output: (stream, line) => log.emit({ event: "output", ...base, stream, line }),
      info: (message, details) => log.emit({ event: "info", ...base, message, ...details }),
      preserve: async (target) => {
        const present = await lstat(target).then(() => true, () => false);
        const backup = present ? `${target}.ferry-old-${journal.journal.applyId.slice(0, 8)}-${entry.seq}-${entry.undo.length}` : null;
        entry.undo.push({ kind: "restore-path", path: target, backup });
        await journal.save();
        if (backup) await rename(target, backup);
      },
      addUndo: async (undo) => {
        entry.undo.push(undo);
        await journal.save();
      },
      trackProcess: async (id) => {
        if (id) entry.process = id;
        else delete entry.process;
        await journal.save();
      },
      recordFile: (file) => {
        const set = this.written.get(name) ?? new Set<string>();
        set.add(file);
        this.written.set(name, set);
      },
    };
  }

  /** The component's descriptor folder (`${{ component.dir }}`) and its artifacts in the site's blob store. */
  private async stage(plan: ComponentPlan, ctx: StepContext): Promise<void> {
    const dir = this.opts.workdir.componentDir(plan.component.name);
    await ctx.preserve(dir);
    await mkdir(path.dirname(dir), { recursive: true });
    await cp(plan.sourceDir!, dir, { recursive: true });
    for (const artifact of componentArtifacts(plan.component, this.opts.manifest)) {
      const blob = this.opts.workdir.blob(artifact.sha256);
      if (!artifact.path || (await exists(blob))) continue;
      await mkdir(path.dirname(blob), { recursive: true });
      await copyFile(path.join(this.opts.bundleDir, artifact.path), `${blob}.tmp`);
      await rename(`${blob}.tmp`, blob);
    }
  }

  private async removeFiles(plan: ComponentPlan, ctx: StepContext): Promise<void> {
    const installed = this.opts.state.components[plan.component.name];
    for (const file of Object.keys(installed?.files ?? {})) await ctx.preserve(file);
    await ctx.preserve(this.opts.workdir.componentDir(plan.component.name));
  }

  /** Rolls back every started step of the journal, newest first. Returns false when any part failed. */
  async rollbackAll(): Promise<boolean> {
    let ok = true;
    for (const entry of [...this.opts.journal.journal.steps].reverse()) {
      if (entry.status === "rolled_back") continue;
      const plan = this.plans.get(entry.component) ?? null;
      const succeeded = await undoStep(entry, this.context(plan, entry), this.env, this.opts.log, plan?.scope);
      ok &&= succeeded;
      entry.status = succeeded ? "rolled_back" : "rollback_failed";
      await this.opts.journal.save();
      const result = this.results.find((r) => r.seq === entry.seq);
      if (result) result.status = entry.status;
    }
    return ok;
  }
}

/** Undoes one journaled step; usable live or by crash recovery (then without plan or variables). */
export async function undoStep(entry: JournalStep, ctx: StepContext, env: StepEnvironment, log: ApplyLog, scope?: StepEnvironment["scope"]): Promise<boolean> {
  let ok = true;
  const where = { seq: entry.seq, component: entry.component, step: entry.name };
  log.emit({ event: "rollback", status: "started", ...where });
  if (entry.process && isAlive(entry.process)) {
    killGroup(entry.process.pid, "SIGKILL");
    log.emit({ event: "info", ...where, message: `stopped the interrupted step's process group ${entry.process.pid}` });
  }
  if (entry.status === "succeeded" && entry.rollback) {
    try {
      await executeStep(entry.rollback as unknown as SimpleStep, ctx, { ...env, scope: scope ?? {} });
    } catch (error) {
      ok = false;
      log.emit({ event: "rollback", status: "failed", ...where, error: (error as Error).message });
    }
  }
  for (const undo of [...entry.undo].reverse()) {
    try {
      await applyUndo(undo, env, log, where);
    } catch (error) {
      ok = false;
      log.emit({ event: "rollback", status: "failed", ...where, error: (error as Error).message });
    }
  }
  log.emit({ event: "rollback", status: ok ? "rolled_back" : "rollback_failed", ...where });
  return ok;
}

async function applyUndo(undo: Undo, env: StepEnvironment, log: ApplyLog, where: Record<string, unknown>): Promise<void> {
  if (undo.kind === "restore-path") {
    if (undo.backup === null) return rm(undo.path, { recursive: true, force: true });
    // The journal is written before the move: no backup means the move never happened.
    if (!(await exists(undo.backup)) && !(await lstat(undo.backup).then(() => true, () => false))) return;
    await rm(undo.path, { recursive: true, force: true });
    await rename(undo.backup, undo.path);
    return;
  }
  const done = await runSqlUndo(undo, env.bundle);
  const message = done.length ? `undid ${done.join(", ")} on ${undo.database}` : `nothing to undo on ${undo.database}`;
  log.emit({ event: "info", ...where, message });
}

/** After an apply ends well: the paths moved aside are no longer needed. */
export async function discardBackups(steps: JournalStep[]): Promise<void> {
  for (const entry of steps) {
    for (const undo of entry.undo) if (undo.kind === "restore-path" && undo.backup) await rm(undo.backup, { recursive: true, force: true });
  }
}
