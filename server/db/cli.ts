/** `npm run db:migrate` and `npm run db:diff -- <name>`. */
import { loadConfig } from "../config.js";
import { openDatabase } from "./client.js";
import { writeNextMigration } from "./migrate.js";

const [command, name] = process.argv.slice(2);
const config = loadConfig();

if (command === "migrate") {
  const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir });
  const applied = await db.migrate();
  console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
  await db.close();
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
  console.error("usage: db/cli.ts migrate | diff <name>");
  process.exit(2);
}
