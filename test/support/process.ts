/**
 * Runs `ferry server` as a separate OS process (for crash and multi-process tests), the way
 * `npm start` and the image do: the compiled server (scripts/build.mjs), built once per test
 * process from the current sources, with the same node flags.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";

const root = path.resolve(import.meta.dirname, "../..");
/** As in package.json `start` and docker/Dockerfile (test/docker-files.test.ts holds them equal). */
export const SERVER_NODE_FLAGS = ["--max-semi-space-size=4"];
/**
 * The environment `npm start` and the image give a server, unless the caller's own
 * environment says otherwise (a bench trying another value). MALLOC_ARENA_MAX: see the
 * comment at the top of server/util/malloc-trim.ts.
 */
export const SERVER_ENV = { MALLOC_ARENA_MAX: "2" };
export const TEST_ADMIN_PASSWORD = "admin-password-for-tests";

export interface FerryProcess {
  url: string;
  child: ChildProcess;
  exited: Promise<number | null>;
  output(): string;
  kill(signal: NodeJS.Signals): void;
  stop(): Promise<void>;
  login(username?: string, password?: string): Promise<string>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

let built: Promise<string> | undefined;

/** dist/ferry.js built into a directory of this process's own (inside the project, so node_modules resolve), removed at exit. */
export function builtFerryCli(): Promise<string> {
  return (built ??= (async () => {
    const cache = path.join(root, "node_modules", ".cache");
    mkdirSync(cache, { recursive: true });
    const outdir = mkdtempSync(path.join(cache, "ferry-test-build-"));
    process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
    const buildScript = pathToFileURL(path.join(root, "scripts/build.mjs")).href;
    const { buildServer } = (await import(buildScript)) as { buildServer(outdir: string): Promise<string[]> };
    await buildServer(outdir);
    return path.join(outdir, "ferry.js");
  })());
}

/**
 * `env.PORT` keeps a port across restarts (a process started again where clients expect it); otherwise a free one.
 * `nodeFlags` go after SERVER_NODE_FLAGS, so a bench can try another V8 setting against the default.
 */
export async function startFerryProcess(env: Record<string, string>, args: string[] = ["server"], nodeFlags: string[] = []): Promise<FerryProcess> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const cli = await builtFerryCli();
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, ...nodeFlags, cli, ...args], {
    cwd: root,
    env: { ...SERVER_ENV, ...process.env, PORT: String(port), HOST: "127.0.0.1", FERRY_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD, LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`ferry exited during start-up:\n${output}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`ferry did not start within 60s:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    child,
    exited,
    output: () => output,
    kill: (signal) => child.kill(signal),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        await exited;
      }
    },
    async login(username = "admin", password = TEST_ADMIN_PASSWORD) {
      const response = await fetch(`${url}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ username, password }),
      });
      if (!response.ok) throw new Error(`login failed: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { token: string }).token;
    },
  };
}
