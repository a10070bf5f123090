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
 *   dist/prisma-query-compiler.wasm  Prisma's query compiler, read from a file (see below)
 *
 * npm packages stay external (resolved from node_modules as usual); lazily imported modules
 * become chunks (beside the entries) loaded on first use. Source files that locate things relative to
 * themselves (web/dist, prisma/migrations, agent/, `createRequire`) see `import.meta.url`
 * as the URL of their source file, so the output behaves as the sources do wherever
 * dist/ is (it must stay inside the project, for node_modules).
 *
 * Usage: node scripts/build.mjs [--outdir DIR]   (default: dist)
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { agentBuildOptions, PREBUILT_AGENT_FILE } from "./agent-build-options.mjs";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Prisma's generated client takes its query compiler from a module that holds the
 * WebAssembly as a 2.3 MB base64 string. A module's exports live as long as the process, so
 * that string and the module's source (a second copy) stayed in every server's and worker's
 * JavaScript heap: 4.4 MiB of live heap, which V8 lets grow to twice its size under load.
 * The build writes the decoded bytes beside the output, and the built client compiles its
 * module from that file and keeps nothing. The build fails if the client's code changes shape.
 */
const PRISMA_CLIENT_CLASS = path.join(root, "server/generated/prisma/internal/class.ts");
const QUERY_COMPILER_FROM_BASE64 = /getQueryCompilerWasmModule: async \(\) => \{\s*const \{ wasm \} = await import\("([^"]+\.wasm-base64\.mjs)"\)\s*return await decodeBase64AsWasm\(wasm\)\s*\},/;
const QUERY_COMPILER_FILE = "prisma-query-compiler.wasm";

async function compileQueryCompilerFromFile(contents, outdir) {
  const found = QUERY_COMPILER_FROM_BASE64.exec(contents);
  if (!found) throw new Error(`${PRISMA_CLIENT_CLASS}: Prisma's getQueryCompilerWasmModule no longer has the shape scripts/build.mjs rewrites`);
  const { wasm } = await import(found[1]);
  await mkdir(outdir, { recursive: true });
  await writeFile(path.join(outdir, QUERY_COMPILER_FILE), Buffer.from(wasm, "base64"));
  const fromFile = `getQueryCompilerWasmModule: async () => new WebAssembly.Module(await (await import("node:fs/promises")).readFile(new URL(${JSON.stringify(`./${QUERY_COMPILER_FILE}`)}, __ferryBundleUrl))),`;
  return contents.replace(found[0], fromFile);
}

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
            if (args.path === PRISMA_CLIENT_CLASS) contents = await compileQueryCompilerFromFile(contents, absoluteOutdir);
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
  const queryCompiler = path.relative(root, path.join(absoluteOutdir, QUERY_COMPILER_FILE));
  return [...Object.keys(result.metafile.outputs), path.relative(root, agent), queryCompiler];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { outdir: { type: "string" } } });
  const started = Date.now();
  const outputs = await buildServer(values.outdir);
  console.log(`ferry: built ${outputs.filter((file) => /\.m?js$/.test(file)).length} files into ${values.outdir ?? "dist"} in ${Date.now() - started} ms`);
}
