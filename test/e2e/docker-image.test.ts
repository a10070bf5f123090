/**
 * The production image, built from docker/Dockerfile and run by a real Docker engine:
 * - on its embedded defaults: Docker's own HEALTHCHECK turns healthy, it runs as the
 *   unprivileged `node` user with production dependencies only, an upload comes back
 *   byte for byte, and `docker stop` ends it cleanly (node is PID 1 there);
 * - in the production shape of docker/compose.yaml: a server container that runs no jobs
 *   and a worker container, on PostgreSQL, Redis and S3; a bundle requested from the
 *   server is built by the worker container and passes GNU tar and `sha256sum -c`, and
 *   `ferry verify-store` run in the server container finds every blob intact.
 * The containers share the host's network, so they reach the same PostgreSQL, Redis and
 * S3 on loopback as the other process tests. Where Docker Hub is out of reach (CI here),
 * the base image is the stand-in from docker/stand-in-base.sh, which .ci/run builds.
 * Without a Docker engine the suite is skipped, except under FERRY_TEST_REQUIRE_ALL=1 (CI).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { BINARY, bundleWorld } from "../support/bundles.js";
import { type Cleanups, freshDatabase, freshQueuePrefix, REDIS_URL, remoteServer, s3Env, sharedSecrets } from "../support/cluster.js";
import { freePort, TEST_ADMIN_PASSWORD } from "../support/process.js";
import { createBucket, startS3 } from "../support/s3.js";
import { until } from "../support/until.js";

const root = path.resolve(import.meta.dirname, "../..");
const IMAGE = `ferry:test-${randomBytes(4).toString("hex")}`;
const docker = (...args: string[]) => execFileSync("docker", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
const dockerAsync = promisify(execFile);

function dockerEngine(): string | null {
  const info = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], { encoding: "utf8" });
  return info.status === 0 ? null : (info.error?.message ?? info.stderr.trim()) || "docker info failed";
}

const missing = dockerEngine();
if (missing && process.env.FERRY_TEST_REQUIRE_ALL === "1") throw new Error(`no Docker engine for the image tests: ${missing}`);

const cleanups: Cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await Promise.resolve(cleanup()).catch((error: unknown) => console.error("cleanup:", error));
});

/** Starts a container of the image on the host's network; removed (with its volumes) at clean-up. */
function runContainer(name: string, env: Record<string, string>, command: string[] = []): string {
  const envArgs = Object.entries(env).flatMap(([key, value]) => ["-e", `${key}=${value}`]);
  const id = docker("run", "-d", "--name", name, "--network", "host", ...envArgs, IMAGE, ...command);
  cleanups.push(() => spawnSync("docker", ["rm", "-f", "-v", id]));
  return id;
}

function logsOf(id: string): string {
  const logs = spawnSync("docker", ["logs", id], { encoding: "utf8" });
  return logs.stdout + logs.stderr;
}

async function healthy(id: string): Promise<void> {
  // The image's HEALTHCHECK runs every 15 s: the first verdict comes after one interval.
  await until(
    `container ${id.slice(0, 12)} healthy`,
    () => {
      const state = docker("inspect", "--format", "{{.State.Status}} {{.State.Health.Status}}", id);
      if (state.startsWith("exited")) throw new Error(`container exited:\n${logsOf(id)}`);
      return state === "running healthy";
    },
    90_000,
    () => logsOf(id),
  );
}

async function listening(url: string, id: string): Promise<void> {
  await until(
    `${url}/readyz answering`,
    async () => {
      if (docker("inspect", "--format", "{{.State.Status}}", id) === "exited") throw new Error(`container exited:\n${logsOf(id)}`);
      return fetch(`${url}/readyz`).then((response) => response.ok).catch(() => false);
    },
    60_000,
    () => logsOf(id),
  );
}

describe("the Docker image", { skip: missing ? `no Docker engine: ${missing}` : false }, () => {
  before(async () => {
    // The same Dockerfile a user builds, from the repository root; --network host only
    // so that npm inside the build reaches the registry the way this machine does.
    await dockerAsync("docker", ["build", "--network", "host", "-f", "docker/Dockerfile", "-t", IMAGE, "."], {
      cwd: root,
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
      maxBuffer: 64 * 1024 * 1024,
    });
    cleanups.push(() => spawnSync("docker", ["rmi", "-f", IMAGE]));
  });

  test("on its embedded defaults: healthy, unprivileged, production dependencies only, stops cleanly", async () => {
    const port = await freePort();
    const id = runContainer(`ferry-embedded-${randomBytes(3).toString("hex")}`, { PORT: String(port), HOST: "127.0.0.1", FERRY_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD });
    await healthy(id);
    const url = `http://127.0.0.1:${port}`;

    assert.equal(docker("exec", id, "id", "-u"), "1000", "runs as the node user, not root");
    const present = (file: string) => spawnSync("docker", ["exec", id, "test", "-e", file]).status === 0;
    // (typescript itself is there: @prisma/client declares it as a peer dependency.)
    for (const devOnly of ["node_modules/vite", "node_modules/s3rver", "node_modules/playwright-core", "node_modules/pino-pretty"]) {
      assert.equal(present(devOnly), false, `${devOnly} is a dev dependency and must not be in the image`);
    }
    assert.equal(present("node_modules/prisma"), false, "the Prisma CLI (generate only) is left out of the image");
    for (const left of ["server", "test", "docs", ".git"]) assert.equal(present(left), false, `/app/${left} does not belong in the image`);
    assert.ok(present("web/dist/index.html"), "the web console is built in");
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<title>Ferry<\/title>/);

    const world = await bundleWorld(await remoteServer(url));
    const content = randomBytes(2 * 1024 * 1024 + 5);
    await world.upload("orders-api", "1.0.0", "orders-api.tar.gz", content, BINARY);
    const download = await fetch(`${url}/api/v1/artifacts/orders-api/1.0.0/orders-api.tar.gz`, { headers: { authorization: `Bearer ${world.ci.token}` } });
    assert.equal(download.status, 200);
    assert.ok(Buffer.from(await download.arrayBuffer()).equals(content), "the download is the upload");
    assert.match(docker("exec", id, "ls", "/var/lib/ferry"), /blobs/, "data lives in the image's volume");

    // node is PID 1 in the container: it gets no default signal handling, so only Ferry's own SIGTERM handler ends it.
    docker("stop", "--time", "20", id);
    assert.equal(docker("inspect", "--format", "{{.State.ExitCode}}", id), "0", `exit code after docker stop:\n${logsOf(id)}`);
  });

  test("as server and worker containers on PostgreSQL, Redis and S3: the worker builds a verifiable bundle", async () => {
    const database = await freshDatabase(cleanups, "ferry_docker");
    let s3Endpoint = process.env.FERRY_TEST_S3_ENDPOINT;
    if (!s3Endpoint) {
      const s3 = await startS3();
      cleanups.push(() => s3.close());
      s3Endpoint = s3.endpoint;
    }
    const bucket = `ferry-docker-${randomBytes(4).toString("hex")}`;
    await createBucket(s3Endpoint, bucket);
    const common = { DATABASE_URL: database.url, REDIS_URL, FERRY_QUEUE_PREFIX: freshQueuePrefix(cleanups), ...s3Env(s3Endpoint, bucket), ...sharedSecrets(), FERRY_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD };
    const port = await freePort();
    const suffix = randomBytes(3).toString("hex");
    // As in compose.yaml: the server runs no jobs, the worker runs them.
    const server = runContainer(`ferry-server-${suffix}`, { ...common, PORT: String(port), HOST: "127.0.0.1", FERRY_EMBEDDED_WORKER: "false" }, ["server"]);
    const url = `http://127.0.0.1:${port}`;
    await listening(url, server);
    const worker = runContainer(`ferry-worker-${suffix}`, common, ["worker"]);

    const world = await bundleWorld(await remoteServer(url));
    await world.upload("orders-api", "2.0.0", "orders-api-2.0.0.tar.gz", randomBytes(3 * 1024 * 1024), BINARY);
    await world.upload("redis", "7.2.5", "redis-7.2.5.tar.gz", "redis binaries", BINARY);
    await world.release("shop", "2.0.0", [
      { name: "orders-api", version: "2.0.0" },
      { name: "redis", version: "7.2.5" },
    ]);
    const site = await world.site("acme", "hq");
    const requested = await world.request({ site, release: { product: "shop", version: "2.0.0" } });
    assert.equal(requested.status, 202, requested.text);
    const id = requested.body.id as string;
    const ready = await world.waitReady(id, 120_000);

    const db = new pg.Client({ connectionString: database.url });
    await db.connect();
    try {
      const job = await db.query(`SELECT status, "lockedBy" FROM "Job" WHERE type = 'bundle.build' AND payload->>'bundleId' = $1`, [id]);
      assert.equal(job.rows[0]?.status, "succeeded");
      // A job is locked by "<host>:<pid>:<random>"; the only process running jobs here is the worker, PID 1 of its container.
      assert.match(job.rows[0].lockedBy, /:1:[0-9a-f]+$/, `built by the worker container, not elsewhere: ${job.rows[0].lockedBy}`);
    } finally {
      await db.end();
    }
    assert.equal(docker("inspect", "--format", "{{.State.Status}}", worker), "running");
    // The operator's store scrub, run inside the server container beside the server.
    // Asynchronously: the S3 server may run in this very process (without FERRY_TEST_S3_ENDPOINT).
    const scrub = (await dockerAsync("docker", ["exec", server, "node", "bin/ferry.js", "verify-store"], { encoding: "utf8" })).stdout;
    assert.match(scrub, /^checked [1-9]\d* blobs \(\d+ bytes verified\): 0 corrupt, 0 missing, 0 unreadable$/m, scrub);

    const work = mkdtempSync(path.join(tmpdir(), "ferry-docker-bundle-"));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const file = path.join(work, "bundle.tar");
    await world.download(id, file);
    assert.equal(createHash("sha256").update(readFileSync(file)).digest("hex"), ready.sha256);
    execFileSync("tar", ["-xf", file, "-C", work]);
    const folder = execFileSync("tar", ["-tf", file], { encoding: "utf8" }).split("\n")[0]!.replace(/\/$/, "");
    const sums = execFileSync("sha256sum", ["-c", "--strict", "SHA256SUMS"], { cwd: path.join(work, folder), encoding: "utf8" });
    assert.match(sums, /artifacts\/orders-api\/2\.0\.0\/orders-api-2\.0\.0\.tar\.gz: OK/);
  });
});
