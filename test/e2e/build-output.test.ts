/**
 * The compiled server (`npm run build`, as `npm start` and the image run it) takes Prisma's
 * query compiler from a file written beside it, and compiles it from there. Prisma's own
 * client imports it from a module holding the WebAssembly as a 2.3 MB base64 string, which
 * would then stay in the process's heap with that module's source for good
 * (scripts/build.mjs).
 */
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { builtFerryCli, startFerryProcess, type FerryProcess } from "../support/process.js";

const BASE64_MODULE = "@prisma/client/runtime/query_compiler_small_bg.postgresql.wasm-base64.mjs";

const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-build-output-"));
let ferry: FerryProcess | undefined;
after(async () => {
  await ferry?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test("the compiled server compiles Prisma's query compiler from a file, never from the base64 module", async () => {
  const outdir = path.dirname(await builtFerryCli());
  const specifier: string = BASE64_MODULE;
  const { wasm } = (await import(specifier)) as { wasm: string };
  assert.ok(readFileSync(path.join(outdir, "prisma-query-compiler.wasm")).equals(Buffer.from(wasm, "base64")), "the file holds the compiler's bytes");
  const code = readdirSync(outdir)
    .filter((file) => file.endsWith(".js"))
    .map((file) => readFileSync(path.join(outdir, file), "utf8"));
  assert.ok(code.some((text) => text.includes('"./prisma-query-compiler.wasm"')), "the client reads the file");
  assert.ok(!code.some((text) => text.includes("wasm-base64")), "nothing imports the base64 module");

  // Every query goes through the compiler: a server from this build starts, signs in and lists.
  ferry = await startFerryProcess({ FERRY_DATA_DIR: dataDir });
  const token = await ferry.login();
  const listed = await fetch(`${ferry.url}/api/v1/artifacts`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(listed.status, 200, await listed.text());
});
