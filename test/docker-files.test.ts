/**
 * No Docker engine runs on these machines, so the docker/ files are checked against the
 * repository instead: the compose file's structure and references, the variables it uses
 * being documented in .env.example, and the Dockerfile using only npm scripts and paths
 * that exist.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { load as loadYaml } from "js-yaml";

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
