/**
 * The agent's work directory. Layout:
 *
 *   <workdir>/state.json            what the site runs: release, components, artifacts, files
 *   <workdir>/journal.json          the apply in progress (absent when none); see journal.ts
 *   <workdir>/lock                  pid + start time of the agent holding the directory
 *   <workdir>/agent-id              the online agent's id, sent with every heartbeat (the
 *                                   server gives a running deployment back only to it)
 *   <workdir>/deployments/<id>.json what the online agent did for a deployment until the
 *                                   server has the result (deployment-record.ts)
 *   <workdir>/blobs/sha256/<hex>    artifacts the site holds, content-addressed, so an
 *                                   incremental bundle can leave unchanged ones out
 *   <workdir>/components/<name>/    the installed descriptor: service.yml, pipelines.json,
 *                                   config templates, chart (`${{ component.dir }}`)
 *   <workdir>/applies/<id>/         backups and staging of one apply, deleted when it ends
 *   <workdir>/logs/<id>.jsonl       the log of each apply
 *
 * state.json changes only when an apply ends, in one atomic write (writeFileAtomic).
 */
import { randomUUID } from "node:crypto";
import { mkdir, readFile, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { writeFileAtomic } from "./fsutil.js";
import type { ReleaseRef } from "./manifest.js";

export const STATE_FORMAT = "ferry-agent-state/v1";

export interface InstalledArtifact {
  filename: string;
  version: string;
  kind: string;
  sha256: string;
  size: number;
}

export interface InstalledFile {
  sha256: string;
  size: number;
}

export interface InstalledComponent {
  version: string;
  installedAt: string;
  artifacts: InstalledArtifact[];
  /** Files the agent wrote (extract, copy, template), by absolute path, as they were when the apply ended. */
  files: Record<string, InstalledFile>;
}

export interface AgentState {
  format: typeof STATE_FORMAT;
  updatedAt: string;
  site: { id: string; name: string; customer: string; platform: string } | null;
  release: (ReleaseRef & { bundleId: string; applyId: string; appliedAt: string }) | null;
  components: Record<string, InstalledComponent>;
  /** The last applies, newest last. */
  history: Array<{ applyId: string; bundleId: string; release: ReleaseRef; result: string; at: string }>;
}

const HISTORY_KEPT = 50;

export class WorkDir {
  readonly root: string;
  constructor(root: string) {
    this.root = path.resolve(root);
  }
  get stateFile() {
    return path.join(this.root, "state.json");
  }
  get journalFile() {
    return path.join(this.root, "journal.json");
  }
  get lockFile() {
    return path.join(this.root, "lock");
  }
  blob(sha256: string) {
    return path.join(this.root, "blobs", "sha256", sha256);
  }
  componentDir(name: string) {
    return path.join(this.root, "components", name);
  }
  applyDir(applyId: string) {
    return path.join(this.root, "applies", applyId);
  }
  logFile(applyId: string) {
    return path.join(this.root, "logs", `${applyId}.jsonl`);
  }

  /** The online agent's id, created on first use and kept: an agent restarted on this directory is the same agent. */
  async agentId(): Promise<string> {
    const file = path.join(this.root, "agent-id");
    const existing = (await readFile(file, "utf8").catch(() => "")).trim();
    if (/^[A-Za-z0-9._-]{1,100}$/.test(existing)) return existing;
    const id = randomUUID();
    await mkdir(this.root, { recursive: true, mode: 0o700 });
    await writeFileAtomic(file, `${id}\n`, 0o600);
    return id;
  }

  async readState(): Promise<AgentState> {
    const text = await readFile(this.stateFile, "utf8").catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return null;
      throw error;
    });
    if (text === null) return emptyState();
    const state = JSON.parse(text) as AgentState;
    if (state.format !== STATE_FORMAT) throw new Error(`${this.stateFile}: unknown format ${JSON.stringify(state.format)}`);
    return state;
  }

  async writeState(state: AgentState): Promise<void> {
    state.updatedAt = new Date().toISOString();
    state.history = state.history.slice(-HISTORY_KEPT);
    await writeFileAtomic(this.stateFile, `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  /** Deletes blobs no installed component refers to (after an apply has ended). */
  async collectBlobs(state: AgentState): Promise<number> {
    const wanted = new Set(Object.values(state.components).flatMap((c) => c.artifacts.map((a) => a.sha256)));
    const dir = path.join(this.root, "blobs", "sha256");
    const names = await readdir(dir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      if (wanted.has(name)) continue;
      await rm(path.join(dir, name), { force: true });
      removed++;
    }
    return removed;
  }
}

export function emptyState(): AgentState {
  return { format: STATE_FORMAT, updatedAt: new Date().toISOString(), site: null, release: null, components: {}, history: [] };
}
