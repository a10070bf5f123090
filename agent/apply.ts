/**
 * `ferry-agent apply <bundle.tar|bundle.tar.gz|dir> --workdir DIR [--vars FILE] [--key PEM]
 * [--dry-run] [--force] [--report FILE]`.
 *
 * Order, each stage refusing to go on when the one before failed:
 * 1. verify the bundle (checksums and the Ed25519 signature against the trusted key)
 *    before anything at the site is touched;
 * 2. recover an interrupted apply found in the journal (see journal.ts: rolled back);
 * 3. for an incremental bundle, check the site holds what it `expects` (drift.ts);
 * 4. plan: descriptors, variables, artifacts and every step rendered (plan.ts);
 * 5. run components in manifest order; on a failure roll back every started step and end
 *    `rolled_back`; on success write state.json once, then drop the backups.
 * A report is written in every case when --report is given.
 */
import { randomUUID } from "node:crypto";
import { lstat, mkdir, rm, stat } from "node:fs/promises";
import { openBundle, trustedKey } from "./bundle.js";
import { checkDrift, describeDrift } from "./drift.js";
import { sha256File } from "./fsutil.js";
import { JournalWriter, lockWorkDir, readJournal, type Journal } from "./journal.js";
import { ApplyLog } from "./log.js";
import { BundleError, type BundleManifest } from "./manifest.js";
import { componentArtifacts, planApply, PlanError, type ComponentPlan } from "./plan.js";
import { currentProcess } from "./process-id.js";
import { AGENT_VERSION, REPORT_FORMAT, databaseHistories, inventoryOf, writeReport, type ApplyReport } from "./report.js";
import { Runner, StepFailure, discardBackups } from "./runner.js";
import { WorkDir, type AgentState, type InstalledFile } from "./state.js";
import { NO_VARS, readVarsFile, type VarsFile } from "./vars.js";
import { ExpressionError } from "./expressions.js";

export interface ApplyOptions {
  bundle: string;
  workdir: string;
  varsFile?: string;
  keyFile?: string;
  /** Apply without checking the signature (checksums are still checked). */
  allowUnsigned?: boolean;
  dryRun?: boolean;
  force?: boolean;
  reportFile?: string;
  signal?: AbortSignal;
  out?: (line: string) => void;
  /** Names this apply (state history, journal, log file); a fresh UUID by default. */
  applyId?: string;
}

export async function applyBundle(options: ApplyOptions): Promise<ApplyReport> {
  const workdir = new WorkDir(options.workdir);
  await mkdir(workdir.root, { recursive: true, mode: 0o700 });
  const applyId = options.applyId ?? randomUUID();
  const log = new ApplyLog(options.dryRun ? undefined : workdir.logFile(applyId), options.out);
  const signal = options.signal ?? new AbortController().signal;
  const report: ApplyReport = {
    format: REPORT_FORMAT,
    agentVersion: AGENT_VERSION,
    applyId,
    bundle: null,
    startedAt: new Date().toISOString(),
    finishedAt: "",
    result: "failed",
    error: null,
    drift: [],
    forced: Boolean(options.force),
    recovered: null,
    steps: [],
    inventory: inventoryOf(await workdir.readState()),
    databases: [],
  };
  const unlock = options.dryRun ? async () => undefined : await lockWorkDir(workdir);
  const staging = workdir.applyDir(applyId);
  let vars: VarsFile = NO_VARS;
  let state: AgentState | null = null;
  try {
    log.emit({ event: "apply", status: "started", applyId, bundle: options.bundle, dryRun: Boolean(options.dryRun) });
    const key = await trustedKey(options.keyFile);
    if (!key && !options.allowUnsigned) {
      throw new BundleError("signing_key_missing", "no trusted signing key: pass --key (GET /api/v1/signing-key), set FERRY_SIGNING_KEY_FILE or install /etc/ferry/signing-key.pem; --allow-unsigned skips the signature check");
    }
    const bundle = await openBundle(options.bundle, `${staging}/bundle`, { publicKeyPem: key?.pem ?? null }).catch((error: BundleError) => {
      report.result = "verify_failed";
      throw error;
    });
    const { manifest } = bundle;
    report.bundle = { id: manifest.id, folder: manifest.folder, mode: manifest.mode, site: manifest.site, release: manifest.release, base: manifest.base };
    log.emit({ event: "verify", status: "succeeded", signature: bundle.verification.signature, files: bundle.verification.files, bytes: bundle.verification.bytes });
    vars = await readVarsFile(options.varsFile);

    const interrupted = await readJournal(workdir);
    if (interrupted && options.dryRun) log.emit({ event: "recovery", status: "pending", message: `apply ${interrupted.applyId} was interrupted; a real run rolls it back first` });
    else if (interrupted) report.recovered = await recover(interrupted, workdir, bundle.manifest, bundle.dir, log, signal);

    state = await workdir.readState();
    report.drift = await checkDrift(manifest, state, workdir);
    for (const item of report.drift) log.emit({ event: "drift", ...item, message: describeDrift(item) });
    if (report.drift.length && !options.force) {
      report.result = "drift";
      throw new BundleError("drift", `the site differs from what the bundle expects (${report.drift.length} difference(s)); nothing was changed. Re-run with --force to apply anyway`);
    }

    const plans = await planApply({ manifest, bundleDir: bundle.dir, workdir, state, vars }).catch((error: Error) => {
      if (error instanceof PlanError || error instanceof ExpressionError) report.result = "plan_failed";
      throw error;
    });
    for (const plan of plans) for (const secret of plan.secrets) log.addSecret(secret);
    if (options.dryRun) {
      log.emit({ event: "plan", components: plans.map(describePlan) });
      report.result = "dry_run";
      return report;
    }
    report.result = await run(plans, { workdir, manifest, bundleDir: bundle.dir, state, log, signal, applyId, report });
  } catch (error) {
    const code = (error as { code?: string }).code ?? "apply_failed";
    report.error = { code: typeof code === "string" ? code : "apply_failed", message: (error as Error).message };
    log.emit({ event: "error", code: report.error.code, message: report.error.message });
  } finally {
    await rm(staging, { recursive: true, force: true });
    const finalState = await workdir.readState();
    report.inventory = inventoryOf(finalState);
    if (!options.dryRun && report.bundle) report.databases = await databaseHistories(finalState, workdir, vars);
    report.finishedAt = new Date().toISOString();
    log.emit({ event: "apply", status: report.result, applyId, error: report.error?.message });
    if (options.reportFile) await writeReport(options.reportFile, report, log);
    await unlock();
  }
  return report;
}

function describePlan(plan: ComponentPlan) {
  const { name, version, fromVersion, action } = plan.component;
  return { name, version, fromVersion, action, steps: plan.steps.map((s) => ({ pipeline: s.pipeline, name: s.name, type: s.step.type, rollback: s.rollback?.type ?? null })) };
}

interface RunInput {
  workdir: WorkDir;
  manifest: BundleManifest;
  bundleDir: string;
  state: AgentState;
  log: ApplyLog;
  signal: AbortSignal;
  applyId: string;
  report: ApplyReport;
}

async function run(plans: ComponentPlan[], input: RunInput): Promise<ApplyReport["result"]> {
  const { workdir, manifest, state, log, applyId, report } = input;
  const release = { product: manifest.release.product, version: manifest.release.version, digest: manifest.release.digest };
  const journal: Journal = { format: "ferry-agent-journal/v1", applyId, bundleId: manifest.id, release, startedAt: report.startedAt, phase: "applying", agent: currentProcess(), steps: [] };
  const writer = new JournalWriter(workdir, journal);
  await writer.save();
  const runner = new Runner({ workdir, journal: writer, log, manifest, bundleDir: input.bundleDir, state, signal: input.signal });
  report.steps = runner.results;
  try {
    for (const plan of plans) {
      if (plan.component.action === "unchanged") {
        log.emit({ event: "component", status: "skipped", component: plan.component.name, version: plan.component.version, action: "unchanged" });
        continue;
      }
      log.emit({ event: "component", status: "started", component: plan.component.name, version: plan.component.version, action: plan.component.action });
      await runner.runComponent(plan);
    }
  } catch (error) {
    if (!(error instanceof StepFailure)) throw error;
    report.error = { code: error.code, message: error.message };
    log.emit({ event: "rollback", status: "started", reason: error.message });
    const ok = await runner.rollbackAll();
    state.history.push({ applyId, bundleId: manifest.id, release, result: ok ? "rolled_back" : "failed", at: new Date().toISOString() });
    await workdir.writeState(state);
    await writer.close();
    return ok ? "rolled_back" : "failed";
  }
  journal.phase = "committing";
  await writer.save();
  const next = await nextState(state, plans, runner, input);
  await workdir.writeState(next);
  await discardBackups(journal.steps);
  await writer.close();
  await workdir.collectBlobs(next);
  return "succeeded";
}

async function nextState(state: AgentState, plans: ComponentPlan[], runner: Runner, input: RunInput): Promise<AgentState> {
  const { manifest, applyId } = input;
  const next: AgentState = structuredClone(state);
  const now = new Date().toISOString();
  next.site = { id: manifest.site.id, name: manifest.site.name, customer: manifest.site.customer, platform: manifest.site.platform };
  for (const plan of plans) {
    const { name, version, action } = plan.component;
    if (action === "unchanged") continue;
    if (action === "remove") {
      delete next.components[name];
      continue;
    }
    const files: Record<string, InstalledFile> = {};
    for (const [file, recorded] of Object.entries(state.components[name]?.files ?? {})) {
      if ((await lstat(file).catch(() => null))?.isFile()) files[file] = recorded;
    }
    for (const file of runner.written.get(name) ?? []) {
      const info = await stat(file).catch(() => null);
      if (info?.isFile()) files[file] = { sha256: await sha256File(file), size: info.size };
    }
    const artifacts = componentArtifacts(plan.component, manifest).map((a) => ({ filename: a.filename, version: a.version, kind: a.kind, sha256: a.sha256, size: a.size }));
    next.components[name] = { version, installedAt: now, artifacts, files };
  }
  const release = { product: manifest.release.product, version: manifest.release.version, digest: manifest.release.digest };
  next.release = { ...release, bundleId: manifest.id, applyId, appliedAt: now };
  next.history.push({ applyId, bundleId: manifest.id, release, result: "succeeded", at: now });
  return next;
}

/** The journaled apply wrote state.json (it succeeded) and was stopped during its clean-up. */
export function hasCommitted(journal: Journal, state: AgentState): boolean {
  return journal.phase === "committing" && state.release?.applyId === journal.applyId;
}

/** The clean-up a committed apply did not get to: its backups, its journal, its staging. Caller holds the work directory lock. */
export async function finishCommittedApply(workdir: WorkDir, journal: Journal): Promise<void> {
  await discardBackups(journal.steps);
  await new JournalWriter(workdir, journal).close();
  await rm(workdir.applyDir(journal.applyId), { recursive: true, force: true });
}

/** Rolls back an apply a crash interrupted, or finishes one that had already committed. */
async function recover(journal: Journal, workdir: WorkDir, manifest: BundleManifest, bundleDir: string, log: ApplyLog, signal: AbortSignal): Promise<ApplyReport["recovered"]> {
  const state = await workdir.readState();
  const writer = new JournalWriter(workdir, journal);
  if (hasCommitted(journal, state)) {
    log.emit({ event: "recovery", status: "succeeded", applyId: journal.applyId, message: "the interrupted apply had committed; finishing its clean-up" });
    await finishCommittedApply(workdir, journal);
    return { applyId: journal.applyId, bundleId: journal.bundleId, result: "succeeded" };
  }
  log.emit({ event: "recovery", status: "started", applyId: journal.applyId, bundleId: journal.bundleId, message: `apply ${journal.applyId} was interrupted; rolling back its ${journal.steps.length} started step(s)` });
  const runner = new Runner({ workdir, journal: writer, log, manifest, bundleDir, state, signal });
  const ok = await runner.rollbackAll();
  state.history.push({ applyId: journal.applyId, bundleId: journal.bundleId, release: journal.release, result: ok ? "rolled_back" : "failed", at: new Date().toISOString() });
  await workdir.writeState(state);
  if (!ok) throw new BundleError("recovery_failed", `rolling back the interrupted apply ${journal.applyId} failed; see the log; journal kept in ${workdir.journalFile}`);
  await writer.close();
  await rm(workdir.applyDir(journal.applyId), { recursive: true, force: true });
  log.emit({ event: "recovery", status: "rolled_back", applyId: journal.applyId });
  return { applyId: journal.applyId, bundleId: journal.bundleId, result: "rolled_back" };
}
