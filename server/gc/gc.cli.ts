/** `ferry gc` and `ferry verify-store`: run against the configured database and storage. */
import { parseArgs } from "node:util";
import type { Config } from "../config.js";
import { createLogger } from "../logger.js";
import { createContext } from "../server.js";
import { collectGarbage } from "./gc.service.js";
import { verifyStore } from "./verify-store.js";

/** Returns the process exit code. */
export async function gcCommand(config: Config, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "grace-minutes": { type: "string" }, "dry-run": { type: "boolean" } } });
  const graceMinutes = values["grace-minutes"] === undefined ? undefined : Number(values["grace-minutes"]);
  if (graceMinutes !== undefined && !(Number.isInteger(graceMinutes) && graceMinutes >= 0)) {
    console.error("ferry gc: --grace-minutes must be a whole number of minutes, 0 or more");
    return 1;
  }
  const ctx = await createContext(config, createLogger(config.LOG_LEVEL === "info" ? "warn" : config.LOG_LEVEL));
  try {
    const result = await collectGarbage(ctx, {
      graceMs: graceMinutes === undefined ? undefined : graceMinutes * 60_000,
      dryRun: values["dry-run"],
      bundleTtlDays: config.FERRY_BUNDLE_TTL_DAYS,
    });
    const verb = result.dryRun ? "would be " : "";
    console.log(`bundles ${verb}expired: ${result.bundlesExpired}`);
    console.log(`blobs ${verb}deleted: ${result.blobsDeleted}`);
    console.log(`bytes ${verb}freed: ${result.bytesFreed}`);
    return 0;
  } finally {
    await ctx.database.close();
  }
}

/** Exit code 1 when any blob is corrupt, missing or unreadable. */
export async function verifyStoreCommand(config: Config): Promise<number> {
  const ctx = await createContext(config, createLogger(config.LOG_LEVEL === "info" ? "error" : config.LOG_LEVEL));
  try {
    const result = await verifyStore(ctx, {
      onBlob: (sha256, outcome) => {
        if (outcome !== "ok") console.log(`${outcome}: ${sha256}`);
      },
    });
    for (const { sha256, error } of result.unreadable) console.log(`  ${sha256}: ${error}`);
    const bad = result.corrupt.length + result.missing.length + result.unreadable.length;
    console.log(
      `checked ${result.checked} blobs (${result.bytes} bytes verified): ${result.corrupt.length} corrupt, ${result.missing.length} missing, ${result.unreadable.length} unreadable`,
    );
    return bad ? 1 : 0;
  } finally {
    await ctx.database.close();
  }
}
