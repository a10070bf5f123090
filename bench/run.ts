/**
 * `npm run bench [-- name…]`: runs the benchmarks in bench/, each of which measures Ferry
 * against a baseline in the same run and prints the ratio.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";

const benches: Record<string, string> = {
  upload: "upload-download.ts",
  heartbeat: "heartbeat.ts",
  bundle: "bundle.ts",
  list: "list.ts",
  writes: "writes.ts",
};
const chosen = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(benches);
let failed = 0;
for (const name of chosen) {
  const file = benches[name];
  if (!file) {
    console.error(`unknown benchmark ${name}; known: ${Object.keys(benches).join(", ")}`);
    process.exit(2);
  }
  console.log(`\n### ${name}`);
  const result = spawnSync(process.execPath, ["--import", "tsx", path.join(import.meta.dirname, file)], { stdio: "inherit" });
  if (result.status !== 0) failed += 1;
}
process.exit(failed ? 1 : 0);
