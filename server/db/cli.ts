/**
 * `npm run db:migrate` and `npm run db:diff -- <name>`. A server runs `migrate --json` in a
 * child process at start-up (see migrate-process.ts): the last line of its output is then
 * `{"applied":[…]}`.
 */
import { loadConfig } from "../config.js";
import { openDatabase } from "./client.js";
import { writeNextMigration } from "./migrate.js";

const [command, name] = process.argv.slice(2);
// Only the database settings matter here: other variables are the server's to check.
const config = loadConfig({ DATABASE_URL: process.env.DATABASE_URL, FERRY_DATA_DIR: process.env.FERRY_DATA_DIR });

if (command === "migrate") {
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir });
  let applied: string[];
  try {
    applied = await db.migrate();
  } finally {
    await db.close();
  }
  const result = name === "--json" ? JSON.stringify({ applied }) : applied.length ? `applied: ${applied.join(", ")}` : "database is up to date";
  // The schema engine leaves a 10 s timer behind (its lock timeout): exit instead of waiting for it.
  await new Promise((resolve) => process.stdout.write(`${result}\n`, resolve));
  process.exit(0);
} else if (command === "diff") {
  if (!name) {
    console.error("usage: npm run db:diff -- <migration_name>");
    process.exit(2);
  }
  // The diff replays existing migrations into a scratch database, so it needs no server.
  const db = await openDatabase({ dataDir: config.dataDir, inMemory: true });
  const dir = await writeNextMigration(db.adapterFactory, name);
  console.log(dir ? `wrote ${dir}/migration.sql` : "schema and migrations agree: nothing to write");
  await db.close();
} else {
  console.error("usage: db/cli.ts migrate [--json] | diff <name>");
  process.exit(2);
}
