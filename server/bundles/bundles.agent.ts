/**
 * The site agent every bundle carries: `agent/main.ts` bundled into one ESM file that runs
 * on a bare Node at the site (options in scripts/agent-build-options.mjs).
 *
 * A compiled server (dist/, as `npm start` and the image run it) reads the copy
 * `npm run build` wrote beside it, dist/ferry-agent.mjs. Only a server running from the
 * TypeScript sources bundles it with esbuild, once per process: that costs ~0.3 s before
 * the first bundle and leaves esbuild's service process (~60 MiB) running beside the
 * server. The output depends only on the agent's sources (paths are made relative to the
 * repository), so bundles stay byte-identical across builds and processes.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { agentBuildOptions, PREBUILT_AGENT_FILE } from "../../scripts/agent-build-options.mjs";

/** Defined by scripts/build.mjs's banner in compiled output: the URL of the dist file that runs. */
declare const __ferryBundleUrl: string | undefined;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
let built: Promise<Buffer | null> | undefined;

/** The bundled agent, or null when this installation has neither a prebuilt agent nor its sources. */
export function buildAgentScript(): Promise<Buffer | null> {
  return (built ??= load().catch((error: unknown) => {
    built = undefined;
    throw error;
  }));
}

/** dist/ferry-agent.mjs when this code runs compiled, else null. */
export function prebuiltAgentPath(): string | null {
  if (typeof __ferryBundleUrl === "undefined") return null;
  return fileURLToPath(new URL(PREBUILT_AGENT_FILE, __ferryBundleUrl));
}

async function load(): Promise<Buffer | null> {
  const prebuilt = prebuiltAgentPath();
  if (prebuilt && existsSync(prebuilt)) return readFile(prebuilt);
  return bundleFromSources();
}

/** esbuild over agent/ (what `npm run build` does for dist/); null without the sources. */
export async function bundleFromSources(): Promise<Buffer | null> {
  const options = agentBuildOptions(repoRoot);
  if (!existsSync(path.join(repoRoot, "agent/main.ts"))) return null;
  const { build: esbuild } = await import("esbuild");
  const result = await esbuild({ ...options, write: false });
  const [file] = result.outputFiles;
  if (!file) throw new Error("esbuild produced no agent output");
  return Buffer.from(file.contents);
}
