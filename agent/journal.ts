/**
 * The journal of the apply in progress (`<workdir>/journal.json`), written atomically at
 * every step transition and BEFORE a step acts, so that after a crash or `kill -9` the
 * next agent run knows every step that may have left a trace, how to undo its file
 * changes, which declared rollback to run, and which process group it had started.
 *
 * Recovery policy: a journal found at start means an apply was interrupted. The agent
 * kills the interrupted step's process group if it still runs, rolls back every step
 * journaled as started (reverse order; declared rollbacks, then built-in file restores),
 * leaves state.json as it was before that apply (it is only written when an apply ends),
 * and only then applies the bundle it was given from the start. Rolling back rather than
 * resuming is deliberate: `run` steps are arbitrary commands whose partial effect cannot
 * be known, while rollback + replay only needs rollbacks to tolerate a half-done step,
 * and gives the same end state as an uninterrupted apply.
 */
import { open, readFile, rm } from "node:fs/promises";
import { writeFileAtomic } from "./fsutil.js";
import type { ReleaseRef } from "./manifest.js";
import { currentProcess, isAlive, type ProcessId } from "./process-id.js";
import type { WorkDir } from "./state.js";

export type StepStatus = "running" | "succeeded" | "failed" | "rolled_back" | "rollback_failed";

/** A built-in undo recorded before a step changes anything. */
export type Undo =
  /** Delete `path`; then, when a backup was taken, move it back. */
  | { kind: "restore-path"; path: string; backup: string | null }
  /** Run the undo scripts of SQL versions this step applied (reverse order). */
  | { kind: "sql-undo"; component: string; database: string; dialect: string; connection: string; scripts: Array<{ version: string; filename: string; file: string; sha256: string }> };

export interface JournalStep {
  seq: number;
  component: string;
  pipeline: string;
  index: number;
  name: string;
  type: string;
  status: StepStatus;
  startedAt: string;
  finishedAt?: string;
  error?: string;
  undo: Undo[];
  /** The declared rollback, rendered (expressions resolved) so recovery needs no variables. */
  rollback: Record<string, unknown> | null;
  /** The process group a `run` step started. */
  process?: ProcessId;
}

export interface Journal {
  format: "ferry-agent-journal/v1";
  applyId: string;
  bundleId: string;
  release: ReleaseRef;
  startedAt: string;
  /** `committing` once every step succeeded: state.json may already name this apply. */
  phase: "applying" | "committing";
  agent: ProcessId;
  steps: JournalStep[];
}

export class JournalWriter {
  private writing: Promise<void> = Promise.resolve();
  constructor(
    private readonly workdir: WorkDir,
    readonly journal: Journal,
  ) {}

  /** Persists the journal; call after every change that recovery must see. */
  save(): Promise<void> {
    const snapshot = `${JSON.stringify(this.journal, null, 2)}\n`;
    this.writing = this.writing.then(() => writeFileAtomic(this.workdir.journalFile, snapshot, 0o600));
    return this.writing;
  }

  async close(): Promise<void> {
    await this.writing;
    await rm(this.workdir.journalFile, { force: true });
  }
}

export async function readJournal(workdir: WorkDir): Promise<Journal | null> {
  const text = await readFile(workdir.journalFile, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return null;
    throw error;
  });
  return text === null ? null : (JSON.parse(text) as Journal);
}

export class LockedError extends Error {
  constructor(readonly holder: ProcessId) {
    super(`the work directory is in use by agent process ${holder.pid}`);
  }
}

/** The live agent process holding the work directory (an apply in progress), or null. */
export async function lockHolder(workdir: WorkDir): Promise<ProcessId | null> {
  const holder = await readFile(workdir.lockFile, "utf8")
    .then((text) => JSON.parse(text) as ProcessId)
    .catch(() => null);
  return holder && isAlive(holder) ? holder : null;
}

/**
 * Takes the work directory for this process. A lock left by a dead process (same pid but
 * another start time counts as dead) is taken over; a live holder makes this throw.
 */
export async function lockWorkDir(workdir: WorkDir): Promise<() => Promise<void>> {
  const me = currentProcess();
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(workdir.lockFile, "wx", 0o600);
      await handle.writeFile(JSON.stringify(me));
      await handle.sync();
      await handle.close();
      return () => rm(workdir.lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const holder = await readFile(workdir.lockFile, "utf8")
        .then((text) => JSON.parse(text) as ProcessId)
        .catch(() => null);
      if (holder && isAlive(holder)) throw new LockedError(holder);
      await rm(workdir.lockFile, { force: true });
    }
  }
  throw new Error(`could not take ${workdir.lockFile}`);
}
