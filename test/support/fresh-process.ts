/**
 * Runs an ES module program in a fresh Node.js process and returns what it printed. For
 * tests of process-wide settings (malloc's thresholds, V8 flags), which act only on what a
 * process does after they are set. The program may import the project's TypeScript sources
 * by file URL (the child runs with tsx).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export async function freshProcessOutput(program: string, nodeFlags: readonly string[] = []): Promise<string> {
  const { stdout } = await execFileAsync(process.execPath, [...nodeFlags, "--import", "tsx", "--input-type=module", "-e", program], { encoding: "utf8" });
  return stdout.trim();
}
