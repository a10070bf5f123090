/**
 * What the online agent did for a deployment, kept in `<workdir>/deployments/<id>.json`
 * from just before its apply starts until the server has acknowledged the result.
 *
 * The server hands a `running` deployment out again at the next heartbeat (an agent that
 * heartbeats is idle), so an agent restarted after a crash is given the deployment it was
 * working on. Whether to apply again depends on how far the apply got:
 *  - a journal in the work directory: the apply was interrupted; applying again rolls it
 *    back and replays it (journal.ts), unless the journal says this apply had committed
 *    (state.json names it): then only its clean-up is finished, and it counts as ended;
 *  - the record holds the report: the apply ended and only the result was not delivered
 *    (the server was down, or the agent was killed while posting); send that report;
 *  - the state history names the record's applyId: the apply ended but the agent was
 *    killed before keeping the report; send the result from the history (no report);
 *  - otherwise the apply never changed anything: apply.
 * Applying again in the last two cases would run the pipeline twice, and for an
 * incremental bundle end in a drift failure while the site runs the new release.
 */
import { randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "./fsutil.js";
import { finishCommittedApply, hasCommitted } from "./apply.js";
import { lockWorkDir, readJournal } from "./journal.js";
import type { ApplyReport } from "./report.js";
import type { WorkDir } from "./state.js";

interface DeploymentRecord {
  deploymentId: string;
  applyId: string;
  startedAt: string;
  report: ApplyReport | null;
}

export interface EarlierOutcome {
  /** The earlier apply; its log is `WorkDir.logFile(applyId)`. */
  applyId: string;
  status: "succeeded" | "failed" | "rolled_back";
  error: string | undefined;
  report: ApplyReport | undefined;
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,200}$/;

export class DeploymentRecords {
  constructor(private readonly workdir: WorkDir) {}

  private file(deploymentId: string): string {
    if (!SAFE_ID.test(deploymentId)) throw new Error(`unusable deployment id ${JSON.stringify(deploymentId)}`);
    return path.join(this.workdir.root, "deployments", `${deploymentId}.json`);
  }

  private async read(deploymentId: string): Promise<DeploymentRecord | null> {
    const text = await readFile(this.file(deploymentId), "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
    if (text === null) return null;
    try {
      return JSON.parse(text) as DeploymentRecord;
    } catch {
      return null; // written atomically, so only a foreign file can be unreadable: treat as absent
    }
  }

  /**
   * The result of an earlier apply of this deployment in this work directory, or null to
   * apply. Finishes the clean-up of an apply that was killed after it committed.
   */
  async earlierOutcome(deploymentId: string): Promise<EarlierOutcome | null> {
    const record = await this.read(deploymentId);
    if (!record) return null;
    if (record.report) return { applyId: record.applyId, ...outcomeOf(record.report) };
    const journal = await readJournal(this.workdir);
    const state = await this.workdir.readState();
    // A journal means an interrupted apply, unless it is this apply's and it had already
    // written state.json (killed during the clean-up after): then it ended, and only the
    // clean-up is left to do.
    const committed = journal !== null && journal.applyId === record.applyId && hasCommitted(journal, state);
    if (journal && !committed) return null;
    const ended = state.history.find((entry) => entry.applyId === record.applyId);
    if (!ended) return null;
    if (journal) {
      const unlock = await lockWorkDir(this.workdir);
      try {
        await finishCommittedApply(this.workdir, journal);
      } finally {
        await unlock();
      }
    }
    const status = ended.result === "succeeded" || ended.result === "rolled_back" ? ended.result : "failed";
    return { applyId: record.applyId, status, error: status === "succeeded" ? undefined : `the apply ended ${ended.result} (its report was lost when the agent stopped)`, report: undefined };
  }

  /** Called right before the apply: returns the applyId to give it. */
  async starting(deploymentId: string): Promise<string> {
    const applyId = randomUUID();
    await this.write({ deploymentId, applyId, startedAt: new Date().toISOString(), report: null });
    return applyId;
  }

  async ended(deploymentId: string, applyId: string, report: ApplyReport): Promise<void> {
    await this.write({ deploymentId, applyId, startedAt: report.startedAt, report });
  }

  /** The server has the result: nothing left to deliver. */
  async delivered(deploymentId: string): Promise<void> {
    await rm(this.file(deploymentId), { force: true });
  }

  private write(record: DeploymentRecord): Promise<void> {
    return writeFileAtomic(this.file(record.deploymentId), `${JSON.stringify(record)}\n`, 0o600);
  }
}

export function outcomeOf(report: ApplyReport): Omit<EarlierOutcome, "applyId"> {
  const status = report.result === "succeeded" || report.result === "rolled_back" ? report.result : "failed";
  const error = status === "succeeded" ? undefined : (report.error?.message ?? `apply ended ${report.result}`);
  return { status, error, report: report.bundle ? report : undefined };
}
