#!/usr/bin/env node
/**
 * `npm run build`: compiles the server to JavaScript in dist/ with esbuild (a dependency of
 * tsx), so production processes run without tsx's TypeScript loader (~35 MiB of RSS, a
 * loader thread and an esbuild service process) and start faster.
 *
 *   dist/ferry.js        the `ferry` CLI (server/cli/main.ts): server, worker and client commands
 *   dist/ferry-db.js     `db migrate` (server/db/cli.ts), which servers run as a child process
 *   dist/ferry-agent.mjs the site agent every bundle carries (agent/main.ts, self-contained),
 *                        so a compiled server never bundles it at run time
 *
 * npm packages stay external (resolved from node_modules as usual); lazily imported modules
 * become chunks (beside the entries) loaded on first use. Source files that locate things relative to
 * themselves (web/dist, prisma/migrations, agent/, `createRequire`) see `import.meta.url`
 * as the URL of their source file, so the output behaves as the sources do wherever
 * dist/ is (it must stay inside the project, for node_modules).
 *
 * Usage: node scripts/build.mjs [--outdir DIR]   (default: dist)
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { agentBuildOptions, PREBUILT_AGENT_FILE } from "./agent-build-options.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Builds the server into `outdir`; returns the output files. */
export async function buildServer(outdir = path.join(root, "dist")) {
  const absoluteOutdir = path.resolve(root, outdir);
  const result = await build({
    absWorkingDir: root,
    entryPoints: { ferry: "server/cli/main.ts", "ferry-db": "server/db/cli.ts" },
    outdir: absoluteOutdir,
    entryNames: "[name]",
    // Every output file sits directly in outdir (the relative source URLs below rely on it).
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    sourcemap: "linked",
    legalComments: "none",
    logLevel: "warning",
    metafile: true,
    // Every output file records where it is; each source that reads import.meta.url gets
    // its own source URL computed from that (see the plugin below).
    banner: { js: "const __ferryBundleUrl = import.meta.url;" },
    define: { "import.meta.url": "__ferrySourceUrl" },
    plugins: [
      {
        name: "source-import-meta-url",
        setup(pluginBuild) {
          pluginBuild.onLoad({ filter: /\.ts$/ }, async (args) => {
            let contents = await readFile(args.path, "utf8");
            if (contents.includes("import.meta.url")) {
              const source = path.relative(absoluteOutdir, args.path).split(path.sep).join("/");
              contents = `const __ferrySourceUrl = new URL(${JSON.stringify(source)}, __ferryBundleUrl).href;\n${contents}`;
            }
            return { contents, loader: "ts" };
          });
        },
      },
    ],
  });
  const agent = path.join(absoluteOutdir, PREBUILT_AGENT_FILE);
  await build({ ...agentBuildOptions(root), outfile: agent });
  return [...Object.keys(result.metafile.outputs), path.relative(root, agent)];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: "string" } } });
  const started = Date.now();
  const outputs = await buildServer(values.outdir);
  console.log(`ferry: built ${outputs.filter((file) => /\.m?js$/.test(file)).length} files into ${values.outdir ?? "dist"} in ${Date.now() - started} ms`);
}
