/**
 * s3rver as its own OS process (test/support/s3rver-main.ts), so a test can stop the S3
 * endpoint and start it again on the same port and data directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "./process.js";

const root = path.resolve(import.meta.dirname, "../..");

export interface S3Process {
  endpoint: string;
  /** Stops the endpoint (SIGKILL: like a crash, nothing flushed or closed politely). */
  stop(): Promise<void>;
  /** Starts it again on the same port and directory. */
  start(): Promise<void>;
}

export async function startS3Process(directory: string): Promise<S3Process> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let child: ChildProcess | null = null;
  const start = async () => {
    let output = "";
    const spawned = spawn(process.execPath, ["--import", "tsx", path.join(root, "test/support/s3rver-main.ts"), "--port", String(port), "--dir", directory], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = spawned;
    spawned.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 30_000;
    while (!output.includes("s3rver listening")) {
      if (spawned.exitCode !== null) throw new Error(`s3rver exited during start-up:\n${output}`);
      if (Date.now() > deadline) throw new Error(`s3rver did not start within 30s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const stop = async () => {
    const running = child;
    child = null;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = new Promise((resolve) => running.once("exit", resolve));
    running.kill("SIGKILL");
    await exited;
  };
  await start();
  return { endpoint, start, stop };
}
