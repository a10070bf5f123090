/**
 * The docker/ files against the repository: the compose file's structure and references,
 * the variables it uses being documented in .env.example, the Dockerfile using only npm
 * scripts and paths that exist; and Docker Compose's own validation of compose.yaml with
 * .env.example. The image itself is built and run in test/e2e/docker-image.test.ts; the
 * PostgreSQL, MinIO and Redis images cannot be pulled here, so compose is not run.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { load as loadYaml } from "js-yaml";
import { SERVER_ENV, SERVER_NODE_FLAGS } from "./support/process.js";

const root = path.resolve(import.meta.dirname, "..");
const read = (file: string) => readFileSync(path.join(root, file), "utf8");

interface ComposeService {
  image?: string;
  build?: unknown;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: { test: unknown };
  environment?: Record<string, string>;
}

test("compose.yaml runs server, worker, PostgreSQL, MinIO and Redis with health checks and named volumes", () => {
  const compose = loadYaml(read("docker/compose.yaml")) as { services: Record<string, ComposeService>; volumes: Record<string, unknown> };
  const services = compose.services;
  for (const name of ["ferry", "worker", "postgres", "minio", "redis"]) assert.ok(services[name], `service ${name}`);
  for (const name of ["postgres", "minio", "redis"]) assert.ok(services[name]!.healthcheck, `${name} healthcheck`);
  for (const [name, service] of Object.entries(services)) {
    assert.ok(service.image || service.build, `${name} has an image or a build`);
    for (const dependency of Object.keys(service.depends_on ?? {})) assert.ok(services[dependency], `${name} depends on unknown ${dependency}`);
    for (const volume of service.volumes ?? []) {
      const source = volume.split(":")[0]!;
      if (!source.startsWith(".") && !source.startsWith("/")) assert.ok(source in compose.volumes, `${name} uses undeclared volume ${source}`);
    }
  }
  // Compose resolves YAML merge keys (`<<: *ferry-env`); js-yaml's core schema leaves them as a key.
  const environment = (service: ComposeService) => {
    const { "<<": merged, ...own } = (service.environment ?? {}) as Record<string, unknown>;
    return { ...(merged as Record<string, string> | undefined), ...own } as Record<string, string>;
  };
  assert.equal(environment(services.ferry!).FERRY_STORAGE, "s3");
  assert.equal(environment(services.ferry!).FERRY_EMBEDDED_WORKER, "false");
  assert.equal(environment(services.worker!).REDIS_URL, "redis://redis:6379");
});

test("every variable compose.yaml reads is documented in .env.example", () => {
  const used = new Set([...read("docker/compose.yaml").matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!));
  const documented = new Set([...read("docker/.env.example").matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  assert.deepEqual([...used].filter((name) => !documented.has(name)), []);
});

test("the Dockerfile uses npm scripts and paths that exist", () => {
  const dockerfile = read("docker/Dockerfile");
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  for (const [, script] of dockerfile.matchAll(/npm run ([a-z:-]+)/g)) assert.ok(scripts[script!], `npm script ${script}`);
  for (const [, source] of dockerfile.matchAll(/^COPY --from=build \/app\/(\S+)/gm)) {
    if (source === "web/dist" || source === "dist") continue; // built inside the image
    assert.ok(existsSync(path.join(root, source!)), `COPY source ${source}`);
  }
  assert.match(dockerfile, /^USER node$/m);
  assert.match(dockerfile, /npm ci --omit=dev/);
});

test("npm start, the image's entrypoint and the tests' server processes run node with the same flags and environment", () => {
  const start = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.start!;
  const startEnv = Object.entries(SERVER_ENV).map(([name, value]) => `${name}=\${${name}:-${value}}`);
  assert.equal(start, [...startEnv, "node", ...SERVER_NODE_FLAGS, "dist/ferry.js", "server"].join(" "));
  const dockerfile = read("docker/Dockerfile");
  const entrypoint = /^ENTRYPOINT (\[.*\])$/m.exec(dockerfile);
  assert.ok(entrypoint, "the Dockerfile has an exec-form ENTRYPOINT");
  assert.deepEqual(JSON.parse(entrypoint[1]!), ["node", ...SERVER_NODE_FLAGS, "dist/ferry.js"]);
  const runtimeStage = dockerfile.slice(dockerfile.indexOf("AS runtime"));
  for (const [name, value] of Object.entries(SERVER_ENV)) assert.match(runtimeStage, new RegExp(`^\\s*(ENV )?${name}=${value}\\b`, "m"), `the image sets ${name}=${value}`);
});

/** The Compose available here: `docker compose` (v2) where present, else Debian's `docker-compose` 1.29. */
type ComposeTool = { name: string; command: string[]; v1: boolean };

function findCompose(): ComposeTool | null {
  const v2 = spawnSync("docker", ["compose", "version", "--short"], { encoding: "utf8" });
  if (v2.status === 0) return { name: `docker compose ${v2.stdout.trim()}`, command: ["docker", "compose"], v1: false };
  const v1 = spawnSync("docker-compose", ["version", "--short"], { encoding: "utf8" });
  if (v1.status === 0) return { name: `docker-compose ${v1.stdout.trim()}`, command: ["docker-compose"], v1: true };
  return null;
}

/**
 * `docker compose config` on `file`. Compose v2 reads the file as it is. docker-compose 1.29
 * validates against its copy of the Compose Specification schema, which predates the
 * top-level `name` key: that one line is left out of the copy it reads.
 */
function composeConfig(tool: ComposeTool, file: string, envFile: string): { status: number | null; output: string } {
  const copy = path.join(path.dirname(file), `.compose-v1-${process.pid}.yaml`);
  if (tool.v1) writeFileSync(copy, readFileSync(file, "utf8").replace(/^name: .*\n/m, ""));
  try {
    const [command, ...args] = tool.command;
    const run = spawnSync(command!, [...args, "-f", tool.v1 ? copy : file, "--env-file", envFile, "config"], { encoding: "utf8" });
    return { status: run.status, output: run.stdout + run.stderr };
  } finally {
    if (tool.v1) rmSync(copy, { force: true });
  }
}

const compose = findCompose();
if (!compose && process.env.FERRY_TEST_REQUIRE_ALL === "1") throw new Error("no Docker Compose (docker compose or docker-compose) to validate docker/compose.yaml");

test("Docker Compose accepts compose.yaml with .env.example and fills the variables in", { skip: compose ? false : "no Docker Compose" }, () => {
  const work = mkdtempSync(path.join(tmpdir(), "ferry-compose-"));
  try {
    const envFile = path.join(work, ".env");
    writeFileSync(envFile, read("docker/.env.example"));
    const result = composeConfig(compose!, path.join(root, "docker/compose.yaml"), envFile);
    assert.equal(result.status, 0, `${compose!.name} config:\n${result.output}`);
    const resolved = loadYaml(result.output.slice(result.output.indexOf("services:"))) as { services: Record<string, { environment: Record<string, string> }> };
    const ferry = resolved.services.ferry!.environment;
    assert.equal(ferry.DATABASE_URL, "postgresql://ferry:change-me@postgres:5432/ferry");
    assert.equal(ferry.S3_SECRET_ACCESS_KEY, "change-me-too");
    assert.match(ferry.FERRY_SIGNING_KEY!, /^-----BEGIN PRIVATE KEY-----\n[\s\S]*\n-----END PRIVATE KEY-----$/, "the multi-line key arrives whole");
    assert.equal(resolved.services.worker!.environment.DATABASE_URL, ferry.DATABASE_URL, "server and worker share one configuration");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
