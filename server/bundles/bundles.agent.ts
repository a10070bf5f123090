/**
 * The site agent every bundle carries: `agent/main.ts` bundled by esbuild into one ESM
 * file that runs on a bare Node at the site. Built once per process; the output depends
 * only on the agent's sources (paths are made relative to the repository), so bundles
 * stay byte-identical across builds and processes.
 */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const entry = path.join(repoRoot, "agent/main.ts");
let built: Promise<Buffer | null> | undefined;

/** The bundled agent, or null when this installation has no agent sources. */
export function buildAgentScript(): Promise<Buffer | null> {
  return (built ??= build().catch((error: unknown) => {
    built = undefined;
    throw error;
  }));
}

async function build(): Promise<Buffer | null> {
  if (!existsSync(entry)) return null;
  const { build: esbuild } = await import("esbuild");
  const result = await esbuild({
    entryPoints: [entry],
    absWorkingDir: repoRoot,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    write: false,
    legalComments: "none",
    logLevel: "silent",
    // CommonJS dependencies call require() for Node built-ins; ESM output needs one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __ferryCreateRequire } from 'node:module';\nconst require = __ferryCreateRequire(import.meta.url);" },
  });
  const [file] = result.outputFiles;
  if (!file) throw new Error("esbuild produced no agent output");
  return Buffer.from(file.contents);
}
