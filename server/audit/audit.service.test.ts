/**
 * The audit chain's hashes are computed by the database when an event is appended and
 * recomputed in JavaScript when the chain is verified: the two must agree byte for byte,
 * whatever the text holds. On PGlite and on the real PostgreSQL, nothing mocked.
 *
 *   node --import tsx --test server/audit/audit.service.test.ts
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { createScratchDatabase, type ScratchDatabase } from "../../test/support/postgres.js";
import { openDatabase, type Database } from "../db/client.js";
import { AuditLog } from "./audit.service.js";

for (const kind of ["pglite", "postgresql"] as const) {
  describe(`audit chain on ${kind}`, () => {
    let database: Database;
    let scratch: ScratchDatabase | undefined;
    let dataDir: string;
    let audit: AuditLog;

    before(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), "ferry-audit-"));
      scratch = kind === "postgresql" ? await createScratchDatabase("ferry_audit") : undefined;
      database = await openDatabase({ dataDir, ...(scratch ? { databaseUrl: scratch.url } : { inMemory: true }) });
      await database.migrate();
      audit = new AuditLog(database.prisma);
    });
    after(async () => {
      await database.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    test("events appended concurrently, with any text, verify; an edited event breaks the chain from there", async () => {
      const texts = ["plain", "Ærø ünïcode ✓ 日本語 🚀", 'quotes " and \\ backslashes', "line\nbreaks\tand tabs", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 outside the BMP"];
      await Promise.all(
        texts.map((text, i) =>
          audit.record({
            actor: `user-${text}`,
            action: "test.write",
            targetType: "thing",
            target: text,
            details: i % 2 ? { text, nested: { list: [1, "two", null, true], empty: {} }, number: 1.5 } : undefined,
            requestId: `req-${i}`,
          }),
        ),
      );
      const verified = await audit.verify();
      assert.deepEqual(verified, { ok: true, count: texts.length });
      const events = await database.prisma.auditEvent.findMany({ orderBy: { seq: "asc" } });
      for (let i = 1; i < events.length; i++) assert.equal(events[i]!.prevHash, events[i - 1]!.hash, "each event links to the one before it");
      assert.equal(events[0]!.prevHash, "0".repeat(64));

      const third = events[2]!;
      await database.prisma.auditEvent.update({ where: { seq: third.seq }, data: { target: `${third.target} (edited)` } });
      const broken = await audit.verify();
      assert.equal(broken.ok, false);
      assert.equal(broken.brokenAt, String(third.seq));
    });
  });
}
