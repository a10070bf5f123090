/**
 * Pipeline steps as the bundle carries them (`catalog/<component>/pipelines.json`:
 * includes expanded, durations in seconds, defaults filled, `${{ … }}` left for the
 * agent), and what a step module gets to run with.
 */
import type { Undo } from "../journal.js";
import type { ManifestScript } from "../manifest.js";
import type { ProcessId } from "../process-id.js";

interface StepBase {
  name?: string;
  platforms?: string[];
}

export interface RunStep extends StepBase {
  type: "run";
  command: string;
  workdir?: string;
  env?: Record<string, string | number | boolean>;
  /** Seconds. */
  timeout?: number;
}
export interface ExtractStep extends StepBase {
  type: "extract";
  artifact: string;
  to: string;
  strip?: number;
}
export interface CopyStep extends StepBase {
  type: "copy";
  artifact: string;
  to: string;
  mode?: string;
}
export interface TemplateStep extends StepBase {
  type: "template";
  source: string;
  to?: string;
  mode?: string;
}
export interface SqlStep extends StepBase {
  type: "sql";
  database: string;
  timeout?: number;
}
export interface ImageLoadStep extends StepBase {
  type: "image-load";
  artifact: string;
  command?: string;
}
export interface HealthcheckStep extends StepBase {
  type: "healthcheck";
  http?: { url: string; expectStatus?: number };
  tcp?: { host?: string; port: number | string };
  command?: string;
  retries?: number;
  interval?: number;
  timeout?: number;
}

export type SimpleStep = RunStep | ExtractStep | CopyStep | TemplateStep | SqlStep | ImageLoadStep | HealthcheckStep;
export type Step = SimpleStep & { rollback?: SimpleStep };
export type StepType = Step["type"];
export const STEP_TYPES: readonly StepType[] = ["run", "extract", "copy", "template", "sql", "image-load", "healthcheck"];

/** An artifact a step refers to by its catalog name, resolved to a file at the site. */
export interface ResolvedArtifact {
  name: string;
  filename: string;
  version: string;
  kind: string;
  sha256: string;
  file: string;
}

export interface SqlDatabaseContext {
  database: string;
  dialect: string;
  /** Connection URL rendered from site variables (see steps/sql.ts). */
  connection: string;
  scripts: Array<ManifestScript & { file: string }>;
}

export interface StepContext {
  component: { name: string; version: string; dir: string };
  /** Site variables (defaults, then the vars file) for expressions and env. */
  vars: Record<string, string>;
  /** Where a step writes its own scratch files (removed when the apply ends). */
  scratchDir: string;
  signal: AbortSignal;
  artifact(name: string): ResolvedArtifact;
  /** The bundle's scripts and connection for one of the component's databases. */
  database(name: string): SqlDatabaseContext;
  /** Streams a line of a command's output to the log. */
  output(stream: "stdout" | "stderr", line: string): void;
  info(message: string, details?: Record<string, unknown>): void;
  /** Moves an existing path aside (or notes that it did not exist) and journals the undo, before the step writes it. */
  preserve(target: string): Promise<void>;
  /** Journals an undo the step will need if a later step fails. */
  addUndo(undo: Undo): Promise<void>;
  /** Journals the process group a command runs in, so recovery can stop it. */
  trackProcess(id: ProcessId | null): Promise<void>;
  /** Adds a file the step wrote to the component's inventory. */
  recordFile(file: string): void;
}

export class StepError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
