/**
 * A fingerprint of everything a Ferry server holds: the content of every database table
 * (row count and a digest of the rows) and every stored object, plus leftover temporary
 * files of the directory store. Two equal snapshots mean a request changed nothing
 * (SPEC §8 "Bad input gets a clear error and changes nothing").
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import type { TestServer } from "./server.js";

export interface StateSnapshot {
  /** Table → `count:digest`. */
  tables: Record<string, string>;
  /** Keys of the stored objects. */
  objects: string[];
  /** Temporary files left in the directory store's tmp/ (always empty on S3). */
  tempFiles: number;
}

/**
 * Columns that change on their own, not because of what a request asked for: when a token
 * was last used (refreshed at most once a minute, on any authenticated call).
 */
const VOLATILE_COLUMNS = ["lastUsedAt"];

let tableQuery: Promise<string> | undefined;

async function buildQuery(server: TestServer): Promise<string> {
  const rows = await server.ctx.db.$queryRawUnsafe<Array<{ name: string }>>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY table_name`,
  );
  const volatile = `ARRAY[${VOLATILE_COLUMNS.map((c) => `'${c}'`).join(",")}]`;
  return rows
    .map(
      ({ name }) =>
        `SELECT '${name}' AS name, count(*)::text || ':' || coalesce(md5(string_agg((to_jsonb(t) - ${volatile})::text, '|' ORDER BY (to_jsonb(t) - ${volatile})::text)), '') AS digest FROM "${name}" t`,
    )
    .join(" UNION ALL ");
}

export async function snapshotState(server: TestServer): Promise<StateSnapshot> {
  tableQuery ??= buildQuery(server);
  const rows = await server.ctx.db.$queryRawUnsafe<Array<{ name: string; digest: string }>>(await tableQuery);
  const tables = Object.fromEntries(rows.map((row) => [row.name, row.digest]));
  const objects: string[] = [];
  for await (const entry of server.ctx.blobs.driver.list("")) objects.push(entry.key);
  objects.sort();
  const tmp = path.join(server.dataDir, "blobs", "tmp");
  const tempFiles = server.ctx.blobs.driver.kind === "fs" && existsSync(tmp) ? readdirSync(tmp).length : 0;
  return { tables, objects, tempFiles };
}

/** What differs between two snapshots, as readable lines (empty when nothing changed). */
export function stateChanges(before: StateSnapshot, after: StateSnapshot): string[] {
  const changes: string[] = [];
  for (const name of new Set([...Object.keys(before.tables), ...Object.keys(after.tables)])) {
    const [a, b] = [before.tables[name], after.tables[name]];
    if (a !== b) changes.push(`table ${name}: ${a?.split(":")[0] ?? "-"} rows → ${b?.split(":")[0] ?? "-"} rows${a?.split(":")[0] === b?.split(":")[0] ? " (content changed)" : ""}`);
  }
  const beforeObjects = new Set(before.objects);
  const afterObjects = new Set(after.objects);
  const added = after.objects.filter((key) => !beforeObjects.has(key));
  const removed = before.objects.filter((key) => !afterObjects.has(key));
  if (added.length) changes.push(`objects added: ${added.slice(0, 5).join(", ")}${added.length > 5 ? ` (+${added.length - 5})` : ""}`);
  if (removed.length) changes.push(`objects removed: ${removed.slice(0, 5).join(", ")}`);
  if (before.tempFiles !== after.tempFiles) changes.push(`temporary files: ${before.tempFiles} → ${after.tempFiles}`);
  return changes;
}

/** A short digest of a snapshot, for logs. */
export function snapshotDigest(snapshot: StateSnapshot): string {
  return createHash("sha256").update(JSON.stringify(snapshot)).digest("hex").slice(0, 12);
}
