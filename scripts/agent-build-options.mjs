/**
 * How the site agent is bundled into one ESM file that runs on a bare Node at the site:
 * shared by `npm run build` (which writes dist/ferry-agent.mjs) and by the server, which
 * bundles it at run time only when it runs from the TypeScript sources. One set of options,
 * so both give the same bytes and bundles stay byte-identical whichever process built them.
 */
import path from "node:path";

/** esbuild options for the agent; the caller adds where the output goes (`outfile` or `write: false`). */
export function agentBuildOptions(repoRoot) {
  return {
    entryPoints: [path.join(repoRoot, "agent/main.ts")],
    absWorkingDir: repoRoot,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    legalComments: "none",
    logLevel: "silent",
    // CommonJS dependencies call require() for Node built-ins; ESM output needs one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __ferryCreateRequire } from 'node:module';\nconst require = __ferryCreateRequire(import.meta.url);" },
  };
}

/** The prebuilt agent's file name, beside dist/ferry.js. */
export const PREBUILT_AGENT_FILE = "ferry-agent.mjs";
