/**
 * Agent steps against real parts beyond the main scenario: the `sql` step on a real
 * MariaDB/MySQL server (history, skip, refusal of a changed script, a failed script
 * blocking later runs since MySQL cannot roll DDL back), and `extract` refusing archives
 * that try to write outside their target.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { dump } from "js-yaml";
import mysql from "mysql2/promise";
import { pack } from "tar-stream";
import { applyBundle } from "../../agent/apply.js";
import { extractTar } from "../../agent/tar.js";
import { releaseRef, buildBundleDir, signingKeys, type FixtureScript } from "../support/bundle-fixture.js";

const MYSQL_URL = process.env.FERRY_TEST_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const dir = mkdtempSync(path.join(tmpdir(), "ferry-agent-steps-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const script = (version: string, orderVersion: string, filename: string, content: string, type: FixtureScript["type"] = "upgrade"): FixtureScript => ({ component: "ledger", version, filename, type, orderVersion, content });

describe("sql step on MariaDB/MySQL", () => {
  const name = `ferry_site_${randomBytes(4).toString("hex")}`;
  let admin: mysql.Connection;
  const keys = signingKeys(dir);
  const varsFile = path.join(dir, "vars.yml");
  const workdir = path.join(dir, "work");
  const bundle = (version: string, scripts: FixtureScript[]) =>
    buildBundleDir(path.join(dir, `b${version}-${randomBytes(3).toString("hex")}`), keys, {
      release: releaseRef("ledger-suite", version),
      components: [
        {
          name: "ledger",
          version,
          action: "install",
          service: { sql: [{ database: "ledger", dialect: "mysql" }], variables: { LEDGER_DB_URL: { secret: true, required: true } } },
          pipelines: { install: [{ name: "migrate ledger", type: "sql", database: "ledger", timeout: 60 }] },
        },
      ],
      sql: [{ database: "ledger", dialect: "mysql", scripts }],
    });
  const apply = (bundleDir: string) => applyBundle({ bundle: bundleDir, workdir, varsFile, keyFile: keys.publicKeyFile, out: () => undefined });
  const history = async () => {
    const [rows] = await admin.query(`SELECT version, type, filename, success FROM ${name}.ferry_schema_history ORDER BY installed_rank`);
    return rows as Array<{ version: string; type: string; filename: string; success: number }>;
  };

  before(async () => {
    admin = await mysql.createConnection({ uri: MYSQL_URL });
    await admin.query(`CREATE DATABASE ${name}`);
    writeFileSync(varsFile, dump({ vars: { LEDGER_DB_URL: `${MYSQL_URL}/${name}` } }));
  });
  after(async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  });

  const v1 = script("1.0", "1", "V1__accounts.sql", "CREATE TABLE accounts (id INT PRIMARY KEY, owner VARCHAR(50));\nINSERT INTO accounts VALUES (1, 'ann');\n");
  const v2 = script("2.0", "2", "V2__balance.sql", "ALTER TABLE accounts ADD COLUMN balance INT NOT NULL DEFAULT 0;\n");

  it("applies scripts in order, records them, and skips what is applied", async () => {
    const first = await apply(bundle("1.0", [v1]));
    assert.equal(first.result, "succeeded", JSON.stringify(first.error));
    const second = await apply(bundle("2.0", [v1, v2]));
    assert.equal(second.result, "succeeded", JSON.stringify(second.error));
    assert.deepEqual((await history()).map((r) => [r.version, r.filename, r.success]), [["1", "V1__accounts.sql", 1], ["2", "V2__balance.sql", 1]]);
    const [rows] = await admin.query(`SELECT owner, balance FROM ${name}.accounts`);
    assert.deepEqual(rows, [{ owner: "ann", balance: 0 }]);
    assert.equal(second.databases[0]!.history.length, 2);
  });

  it("refuses a script whose recorded checksum differs", async () => {
    const changed = { ...v2, content: `${v2.content}-- changed after it ran\n` };
    const report = await apply(bundle("2.1", [v1, changed]));
    assert.equal(report.result, "rolled_back");
    assert.match(report.error!.message, /already applied with other content: V2__balance\.sql/);
  });

  it("records a failed script and refuses later runs until a DBA repairs it", async () => {
    const broken = script("3.0", "3", "V3__broken.sql", "ALTER TABLE accounts ADD COLUMN note TEXT;\nALTER TABLE no_such_table ADD COLUMN x INT;\n");
    const failed = await apply(bundle("3.0", [v1, v2, broken]));
    assert.equal(failed.result, "rolled_back");
    assert.match(failed.error!.message, /V3__broken\.sql failed on ledger/);
    assert.deepEqual((await history()).at(-1), { version: "3", type: "upgrade", filename: "V3__broken.sql", success: 0 });
    const fixed = script("3.1", "3.1", "V3_1__fixed.sql", "SELECT 1;\n");
    const blocked = await apply(bundle("3.1", [v1, v2, fixed]));
    assert.equal(blocked.result, "rolled_back");
    assert.match(blocked.error!.message, /V3__broken\.sql failed on ledger .* repair the schema by hand/);
  });
});

describe("extract refuses archives that escape their target", () => {
  async function tarOf(entries: Array<{ name: string; type?: "file" | "symlink" | "link"; linkname?: string; content?: string }>): Promise<string> {
    const file = path.join(dir, `evil-${randomBytes(3).toString("hex")}.tar`);
    const archive = pack();
    const chunks: Buffer[] = [];
    archive.on("data", (chunk: unknown) => void chunks.push(chunk as Buffer));
    for (const entry of entries) {
      if (entry.type === "symlink" || entry.type === "link") archive.entry({ name: entry.name, type: entry.type, linkname: entry.linkname });
      else archive.entry({ name: entry.name }, entry.content ?? "x");
    }
    archive.finalize();
    await new Promise<void>((resolve) => archive.on("end", () => resolve()));
    writeFileSync(file, Buffer.concat(chunks));
    return file;
  }

  const cases: Array<[string, Parameters<typeof tarOf>[0], RegExp]> = [
    ["a .. component", [{ name: "ok.txt" }, { name: "sub/../../escaped.txt" }], /climbs out/],
    ["an absolute path", [{ name: "/tmp/escaped.txt" }], /absolute path/],
    ["a symlink out of the target", [{ name: "link", type: "symlink", linkname: "../../outside" }], /leaves the target folder/],
    ["a chain of symlinks that resolves outside", [{ name: "a", type: "symlink", linkname: "." }, { name: "b", type: "symlink", linkname: "a/.." }, { name: "b/escaped.txt" }], /resolves outside|leaves the target/],
  ];
  for (const [what, entries, message] of cases) {
    it(`refuses ${what}`, async () => {
      const target = path.join(dir, `target-${randomBytes(3).toString("hex")}`, "inner");
      await assert.rejects(extractTar(await tarOf(entries), target, { allowLinks: true }), message);
      assert.ok(!existsSync(path.join(path.dirname(target), "escaped.txt")));
      assert.ok(!existsSync(path.join(dir, "escaped.txt")));
    });
  }

  it("extracts files, folders, in-target links and --strip-components", async () => {
    const target = path.join(dir, "good");
    const files = await extractTar(await tarOf([{ name: "pkg/bin/run.sh", content: "echo hi" }, { name: "pkg/current", type: "symlink", linkname: "bin" }]), target, { strip: 1, allowLinks: true });
    assert.deepEqual(files, [path.join(target, "bin", "run.sh")]);
    assert.equal(readFileSync(path.join(target, "current", "run.sh"), "utf8"), "echo hi");
  });
});
