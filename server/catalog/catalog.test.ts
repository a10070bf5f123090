import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { startTestServer, type TestServer } from "../../test/support/server.js";
import { defaultPipelinesDir, loadCatalog } from "./catalog.loader.js";

const repoRoot = path.resolve(import.meta.dirname, "../..");

/** A writable copy of the sample catalog and pipelines in a temp folder: <root>/catalog, <root>/pipelines. */
function copySample(): { root: string; catalogDir: string } {
  const root = mkdtempSync(path.join(tmpdir(), "ferry-catalog-"));
  cpSync(path.join(repoRoot, "catalog"), path.join(root, "catalog"), { recursive: true });
  cpSync(path.join(repoRoot, "pipelines"), path.join(root, "pipelines"), { recursive: true });
  return { root, catalogDir: path.join(root, "catalog") };
}

const load = (catalogDir: string) => loadCatalog({ catalogDir, pipelinesDir: defaultPipelinesDir(catalogDir) });

function edit(file: string, from: string, to: string) {
  const text = readFileSync(file, "utf8");
  assert.ok(text.includes(from), `${file} should contain ${from}`);
  writeFileSync(file, text.replace(from, to));
}

const lineOf = (file: string, needle: string) => readFileSync(file, "utf8").split("\n").findIndex((line) => line.includes(needle)) + 1;

describe("catalog loader", () => {
  const temps: string[] = [];
  after(() => temps.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
  const sample = () => {
    const copy = copySample();
    temps.push(copy.root);
    return copy;
  };

  it("loads the sample catalog in dependency order with includes expanded", async () => {
    const result = await load(path.join(repoRoot, "catalog"));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.problems));
    const order = [...result.catalog.order];
    assert.deepEqual(new Set(order), new Set(["postgresql", "redis", "orders-api", "orders-web", "gateway"]));
    assert.ok(order.indexOf("postgresql") < order.indexOf("orders-api"));
    assert.ok(order.indexOf("orders-api") < order.indexOf("gateway"));
    const api = result.catalog.components.get("orders-api")!;
    assert.deepEqual(api.sql, [{ database: "orders", dialect: "postgresql", server: "postgresql", source: "db/postgresql" }]);
    assert.ok(api.includes.includes("java-service-install"));
    // The include brought in the template's steps with the parameter substituted.
    const unpack = api.pipelines.install!.find((step) => step.type === "extract");
    assert.equal(unpack?.type === "extract" && unpack.to, "${{ vars.INSTALL_ROOT }}/orders-api/releases/${{ component.version }}");
    // A template step without `to` takes the target declared under config.
    const rendered = api.pipelines.install!.find((step) => step.type === "template");
    assert.equal(rendered?.type === "template" && rendered.to, "${{ vars.INSTALL_ROOT }}/orders-api/current/conf/application.properties");
    assert.equal(api.variables.ORDERS_DB_PASSWORD?.secret, true);
  });

  it("reports a dependency cycle with file and line", async () => {
    const { catalogDir } = sample();
    const file = path.join(catalogDir, "postgresql/service.yml");
    edit(file, "platforms: [vm, docker]\n", "platforms: [vm, docker]\ndependsOn: [gateway]\n");
    const result = await load(catalogDir);
    assert.equal(result.ok, false);
    const problems = !result.ok ? result.problems : [];
    const cycle = problems.find((p) => p.message.startsWith("dependency cycle"));
    assert.ok(cycle, JSON.stringify(problems));
    assert.match(cycle.message, /gateway → orders-api → postgresql → gateway/);
    assert.equal(cycle.file, "catalog/gateway/service.yml");
    assert.equal(cycle.line, lineOf(path.join(catalogDir, "gateway/service.yml"), "dependsOn:"));
  });

  it("reports an unknown key with file and line, also inside a step", async () => {
    const { catalogDir } = sample();
    const file = path.join(catalogDir, "redis/service.yml");
    edit(file, "  REDIS_PORT:\n    default: 6379\n", "  REDIS_PORT:\n    default: 6379\n    defualt: 6380\n");
    edit(file, "      source: config/redis.conf.tpl\n    - name: start redis", "      source: config/redis.conf.tpl\n      owner: redis\n    - name: start redis");
    const result = await load(catalogDir);
    assert.equal(result.ok, false);
    const problems = !result.ok ? result.problems : [];
    assert.deepEqual(
      problems.map((p) => [p.file, p.line, p.message]),
      [
        ["catalog/redis/service.yml", lineOf(file, "defualt"), 'variables.REDIS_PORT: unknown key "defualt"'],
        ["catalog/redis/service.yml", lineOf(file, "owner: redis"), 'pipelines.install[1]: unknown key "owner"'],
      ],
    );
  });

  it("reports a missing required field with file and line", async () => {
    const { catalogDir } = sample();
    const file = path.join(catalogDir, "orders-web/service.yml");
    edit(file, "description: >-\n  The order management web front end", "summary: >-\n  The order management web front end");
    edit(file, "  - name: dist\n    kind: binary\n", "  - name: dist\n");
    const result = await load(catalogDir);
    const problems = !result.ok ? result.problems : [];
    const messages = problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
    assert.ok(messages.includes(`catalog/orders-web/service.yml:1: missing required field "description"`), messages.join("\n"));
    assert.ok(messages.includes(`catalog/orders-web/service.yml:${lineOf(file, "- name: dist")}: artifacts[0]: missing required field "kind"`), messages.join("\n"));
    assert.ok(messages.includes(`catalog/orders-web/service.yml:${lineOf(file, "summary:")}: unknown key "summary"`), messages.join("\n"));
  });

  it("reports unknown dependencies, undeclared variables, bad includes and YAML syntax", async () => {
    const { catalogDir, root } = sample();
    edit(path.join(catalogDir, "gateway/service.yml"), "dependsOn: [orders-api, orders-web]", "dependsOn: [orders-api, orders-web, billing]");
    edit(path.join(catalogDir, "orders-api/config/logback.xml.tpl"), "${{ vars.LOG_LEVEL }}", "${{ vars.LOGLEVEL }}");
    edit(path.join(catalogDir, "orders-web/service.yml"), "with: { site: orders-web }", "with: { site: orders-web, colour: blue }");
    edit(path.join(root, "pipelines/java-service-stop.yml"), "    timeout: 2m", "    timeout: [2m");
    const result = await load(catalogDir);
    const messages = (!result.ok ? result.problems : []).map((p) => `${p.file}:${p.line}: ${p.message}`);
    const expect = (pattern: RegExp) => assert.ok(messages.some((m) => pattern.test(m)), `${pattern} in\n${messages.join("\n")}`);
    expect(/^catalog\/gateway\/service\.yml:\d+: dependsOn\[2\]: unknown component "billing"$/);
    const logback = path.join(catalogDir, "orders-api/config/logback.xml.tpl");
    expect(new RegExp(`^catalog/orders-api/config/logback\\.xml\\.tpl:${lineOf(logback, "LOGLEVEL")}: .*variable "LOGLEVEL" is not declared`));
    expect(/^catalog\/orders-web\/service\.yml:\d+: pipelines\.install\[0\]: template "nginx-static" has no parameter "colour"$/);
    expect(/^pipelines\/java-service-stop\.yml:\d+: YAML syntax/);
    // The stop template is unusable, so the components including it say so too.
    expect(/^catalog\/orders-api\/service\.yml:\d+: .*"java-service-stop" not found/);
  });
});

describe("catalog API", () => {
  let server: TestServer;
  let copy: { root: string; catalogDir: string };
  before(async () => {
    copy = copySample();
    server = await startTestServer({ env: { FERRY_CATALOG_DIR: copy.catalogDir } });
  });
  after(async () => {
    await server?.close();
    rmSync(copy.root, { recursive: true, force: true });
  });

  it("lists components in dependency order and shows one with expanded pipelines", async () => {
    const viewer = await server.user(["viewer"]);
    const list = await server.call("GET", "/api/v1/catalog", { token: viewer.token });
    assert.equal(list.status, 200);
    assert.equal(list.body.valid, true);
    const names = list.body.items.map((c: { name: string }) => c.name);
    assert.ok(names.indexOf("redis") < names.indexOf("orders-api") && names.indexOf("orders-api") < names.indexOf("gateway"));
    const api = await server.call("GET", "/api/v1/catalog/orders-api", { token: viewer.token });
    assert.equal(api.status, 200);
    assert.deepEqual(api.body.dependsOn, ["postgresql", "redis"]);
    assert.ok(api.body.pipelines.upgrade.some((s: { type: string }) => s.type === "sql"));
    assert.equal((await server.call("GET", "/api/v1/catalog/billing", { token: viewer.token })).status, 404);
  });

  it("reload is admin-only; a failed reload keeps the catalog and lists every problem", async () => {
    const delivery = await server.user(["delivery"]);
    assert.equal((await server.call("POST", "/api/v1/catalog/reload", { token: delivery.token })).status, 403);

    const file = path.join(copy.catalogDir, "redis/service.yml");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original.replace("platforms: [vm, docker]", "platforms: [vm, docker]\ndependsOn: [gateway]\nreplicas: 3"));
    const failed = await server.call("POST", "/api/v1/catalog/reload", { token: server.admin.token });
    assert.equal(failed.status, 400);
    assert.equal(failed.body.error.code, "catalog_invalid");
    const problems = failed.body.error.details.problems as Array<{ file: string; line: number; message: string }>;
    assert.ok(problems.some((p) => p.file === "catalog/redis/service.yml" && p.line === lineOf(file, "replicas") && p.message === 'unknown key "replicas"'), JSON.stringify(problems));
    const still = await server.call("GET", "/api/v1/catalog", { token: server.admin.token });
    assert.equal(still.body.items.length, 5, "the previous catalog stays in use");
    assert.equal(still.body.valid, false);

    // A valid edit goes live on reload.
    writeFileSync(file, original.replace("description: Redis 7 cache", "description: Redis 7.2 cache"));
    const ok = await server.call("POST", "/api/v1/catalog/reload", { token: server.admin.token });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.body.valid, true);
    assert.match((await server.call("GET", "/api/v1/catalog/redis", { token: server.admin.token })).body.description, /Redis 7\.2/);
  });
});
