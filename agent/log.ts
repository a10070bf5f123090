/**
 * The apply log: one JSON object per line on stdout (and in the work directory's log file),
 * each with a timestamp, so operators, SSH deployments and the online agent can all stream
 * and parse the same thing. Secret values are masked before anything is written.
 */
import { appendFileSync, mkdirSync } from "node:fs";
import path from "node:path";

export type LogStatus = "started" | "succeeded" | "failed" | "skipped" | "rolling_back" | "rolled_back" | "rollback_failed";

export interface LogEvent {
  event: string;
  [key: string]: unknown;
}

export class ApplyLog {
  private readonly secrets: string[] = [];
  constructor(
    private readonly file?: string,
    private readonly out: (line: string) => void = (line) => process.stdout.write(line),
  ) {
    if (file) mkdirSync(path.dirname(file), { recursive: true });
  }

  /** Values that must never appear in a log line or report (secret variables). */
  addSecret(value: string): void {
    if (value.length >= 3 && !this.secrets.includes(value)) this.secrets.push(value);
  }

  mask(text: string): string {
    let masked = text;
    // Lines are JSON, so a secret may appear escaped as well as raw.
    for (const secret of this.secrets) for (const form of [secret, JSON.stringify(secret).slice(1, -1)]) masked = masked.split(form).join("***");
    return masked;
  }

  emit(event: LogEvent): void {
    const line = `${this.mask(JSON.stringify({ ts: new Date().toISOString(), ...event }))}\n`;
    this.out(line);
    if (this.file) appendFileSync(this.file, line);
  }
}
