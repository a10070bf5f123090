/**
 * YAML bombs and other hostile catalog files (issue #7). The catalog is the one place Ferry
 * reads YAML (service descriptors, pipeline templates, config templates), on start and on
 * POST /catalog/reload. Each bad file must make the reload a 400 `catalog_invalid` naming
 * the file, quickly and without a memory spike, and change nothing: the previous catalog
 * stays in use and no row (not even an audit event) is written.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { assertRefused, rawRequest } from "../../test/support/raw-http.js";
import { snapshotState, stateChanges } from "../../test/support/state-snapshot.js";
import { MAX_CATALOG_FILE_BYTES } from "./catalog.templates.js";

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, "../..");

let server: TestServer;
let root: string;
let catalogDir: string;
let pipelinesDir: string;

before(async () => {
  root = mkdtempSync(path.join(tmpdir(), "ferry-catalog-bombs-"));
  cpSync(path.join(repoRoot, "catalog"), path.join(root, "catalog"), { recursive: true });
  cpSync(path.join(repoRoot, "pipelines"), path.join(root, "pipelines"), { recursive: true });
  catalogDir = path.join(root, "catalog");
  pipelinesDir = path.join(root, "pipelines");
  server = await startTestServer({ env: { FERRY_CATALOG_DIR: catalogDir } });
});
after(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

const reload = () => rawRequest(server.url, "POST", "/api/v1/catalog/reload", { headers: { authorization: `Bearer ${server.admin.token}` }, timeoutMs: 60_000 });

/** Peak RSS growth while `work` runs (sampled every 5 ms), in bytes. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number; ms: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const started = Date.now();
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - base, ms: Date.now() - started };
  } finally {
    clearInterval(timer);
  }
}

/**
 * Puts `write()`'s file(s) in place, reloads, expects 400 catalog_invalid with a problem in
 * `file` matching `message`, within time and memory bounds, and nothing changed.
 */
async function assertRefusedFile(
  label: string,
  file: string,
  write: () => void,
  message: RegExp,
  bounds = { ms: 10_000, bytes: 150 * 1024 * 1024 },
  prepare?: () => Promise<void>,
): Promise<void> {
  await prepare?.();
  write();
  try {
    const before = await snapshotState(server);
    const { result: response, growth, ms } = await peakGrowth(reload);
    assertRefused(response, "POST", label, "catalog_invalid");
    const problems = response.body.error.details.problems as Array<{ file: string; line: number; message: string }>;
    const relative = path.relative(root, file);
    assert.ok(
      problems.some((p) => p.file === relative && message.test(p.message)),
      `${label}: expected a problem in ${relative} matching ${message}, got ${JSON.stringify(problems).slice(0, 600)}`,
    );
    assert.ok(ms < bounds.ms, `${label}: the reload took ${ms} ms`);
    assert.ok(growth < bounds.bytes, `${label}: memory grew by ${Math.round(growth / 1024 / 1024)} MiB`);
    assert.deepEqual(stateChanges(before, await snapshotState(server)), [], `${label}: a refused reload changed something`);
    const catalog = await rawRequest(server.url, "GET", "/api/v1/catalog", { headers: { authorization: `Bearer ${server.admin.token}` } });
    assert.equal(catalog.body.items.length, 5, `${label}: the previous catalog stays in use`);
  } finally {
    rmSync(path.dirname(file) === catalogDir || path.dirname(file) === pipelinesDir ? file : path.dirname(file), { recursive: true, force: true });
  }
}

/** A new component folder holding `service.yml` written by `content`. */
function bombComponent(name: string, content: string | Buffer): { file: string; write: () => void } {
  const dir = path.join(catalogDir, name);
  const file = path.join(dir, "service.yml");
  return {
    file,
    write: () => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(file, content);
    },
  };
}

const HEAD = "apiVersion: ferry/v1\nname: bomb\ndescription: bomb\nplatforms: [vm]\npipelines:\n  install:\n    - type: run\n      command: 'true'\n";

function billionLaughs(levels: number, width: number): string {
  const lines = [`l0: &l0 ["lol"]`];
  for (let i = 1; i <= levels; i++) lines.push(`l${i}: &l${i} [${Array(width).fill(`*l${i - 1}`).join(", ")}]`);
  return `${HEAD}variables: {}\nx:\n${lines.map((l) => `  ${l}`).join("\n")}\n`;
}

describe("YAML bombs in the catalog: 400 catalog_invalid, fast, bounded memory, nothing changed", () => {
  test("billion laughs (nested aliases), and a merge-key bomb", async () => {
    const laughs = bombComponent("bomb", billionLaughs(10, 10));
    await assertRefusedFile("billion laughs", laughs.file, laughs.write, /YAML syntax/);
    const merge = bombComponent("bomb", `${HEAD}base: &base {a: 1}\nvariables:\n  <<: *base\n`);
    await assertRefusedFile("merge key", merge.file, merge.write, /YAML syntax/);
  });

  test("deep nesting, flow and block style", async () => {
    const flow = bombComponent("bomb", `${HEAD}x: ${"[".repeat(100_000)}${"]".repeat(100_000)}\n`);
    await assertRefusedFile("100,000 nested flow sequences", flow.file, flow.write, /YAML syntax/);
    const block = bombComponent("bomb", `${HEAD}x:\n${Array.from({ length: 200 }, (_, i) => `${"  ".repeat(i + 1)}k${i}:`).join("\n")} 1\n`);
    await assertRefusedFile("200 nested block mappings", block.file, block.write, /YAML syntax/);
  });

  test("huge documents: one over the size limit, a million documents, a megabyte key", async () => {
    const big = bombComponent("bomb", `${HEAD}description: "${"x".repeat(40 * 1024 * 1024)}"\n`);
    await assertRefusedFile("40 MiB descriptor", big.file, big.write, /limited to/);
    const many = bombComponent("bomb", "---\na: 1\n".repeat(Math.floor(MAX_CATALOG_FILE_BYTES / 10)));
    await assertRefusedFile("100,000 YAML documents", many.file, many.write, /YAML/);
    const key = bombComponent("bomb", `${HEAD}${"k".repeat(MAX_CATALOG_FILE_BYTES - 200)}: 1\n`);
    await assertRefusedFile("a key of almost a megabyte", key.file, key.write, /YAML|unknown key/);
  });

  test("language tags, NUL bytes, invalid UTF-8, __proto__ keys", async () => {
    const tag = bombComponent("bomb", `${HEAD}x: !!js/function "function () { process.exit(1) }"\n`);
    await assertRefusedFile("a !!js/function tag", tag.file, tag.write, /YAML syntax/);
    const python = bombComponent("bomb", `${HEAD}x: !!python/object/apply:os.system ["id"]\n`);
    await assertRefusedFile("a !!python tag", python.file, python.write, /YAML syntax/);
    const nul = bombComponent("bomb", `${HEAD}x: "a\u0000b"\n`);
    await assertRefusedFile("a NUL byte", nul.file, nul.write, /YAML syntax|unknown key/);
    const latin1 = bombComponent("bomb", Buffer.concat([Buffer.from(`${HEAD}description: caf`), Buffer.from([0xe9, 0xff]), Buffer.from("\nx: 1\n")]));
    await assertRefusedFile("invalid UTF-8", latin1.file, latin1.write, /YAML|unknown key/);
    const proto = bombComponent("bomb", `${HEAD}__proto__: {polluted: true}\n`);
    await assertRefusedFile("a __proto__ key", proto.file, proto.write, /unknown key|YAML/);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test("not a regular file: a FIFO, /dev/zero, a folder named service.yml", async () => {
    const fifo = path.join(catalogDir, "bomb", "service.yml");
    await assertRefusedFile("a FIFO (reading it would block the reload forever)", fifo, () => {}, /not a regular file/, undefined, async () => {
      mkdirSync(path.dirname(fifo), { recursive: true });
      await run("mkfifo", [fifo]);
    });
    const zero = path.join(catalogDir, "bomb", "service.yml");
    await assertRefusedFile("a symlink to /dev/zero", zero, () => {
      mkdirSync(path.dirname(zero), { recursive: true });
      symlinkSync("/dev/zero", zero);
    }, /not a regular file/);
    const folder = path.join(catalogDir, "bomb", "service.yml");
    await assertRefusedFile("a folder", folder, () => mkdirSync(folder, { recursive: true }), /not a regular file|cannot read/);
  });

  test("pipeline templates and config templates get the same limits", async () => {
    const template = path.join(pipelinesDir, "bomb.yml");
    await assertRefusedFile("a pipeline template bomb", template, () => writeFileSync(template, billionLaughs(8, 8)), /YAML syntax/);
    await assertRefusedFile("a 2 MiB pipeline template", template, () => writeFileSync(template, `apiVersion: ferry/v1\ndescription: "${"x".repeat(2 * 1024 * 1024)}"\n`), /limited to/);
    const dir = path.join(catalogDir, "bomb");
    const configTemplate = path.join(dir, "config", "app.conf.tpl");
    await assertRefusedFile(
      "a config template over the size limit",
      path.join(dir, "service.yml"),
      () => {
        mkdirSync(path.dirname(configTemplate), { recursive: true });
        writeFileSync(path.join(dir, "service.yml"), `${HEAD}config:\n  - source: config/app.conf.tpl\n    target: /etc/app.conf\n`);
        writeFileSync(configTemplate, "x".repeat(MAX_CATALOG_FILE_BYTES + 1));
      },
      /limited to/,
    );
  });
});
