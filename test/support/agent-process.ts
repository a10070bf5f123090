/**
 * `ferry-agent run` as its own OS process, for end-to-end tests that kill it or leave it
 * polling as in production (no --once).
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "../..");

export interface AgentProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  /** SIGKILL, resolved once the process is gone. */
  kill(): Promise<void>;
}

export function startAgentProcess(options: { server: string; token: string; workdir: string; keyFile: string; waitSeconds?: number }): AgentProcess {
  const args = ["--import", "tsx", path.join(root, "agent/main.ts"), "run", "--server", options.server, "--token", options.token, "--workdir", options.workdir, "--key", options.keyFile, "--wait", String(options.waitSeconds ?? 2)];
  const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return {
    child,
    output: () => output,
    exited,
    async kill() {
      child.kill("SIGKILL");
      await exited;
    },
  };
}
