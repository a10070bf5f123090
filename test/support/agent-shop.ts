/**
 * A small but real service for agent tests, "shop": a tarball holding a Node HTTP server
 * and its VERSION, a config template rendered from site variables, SQL for a real
 * PostgreSQL database, and install/upgrade pipelines in the shape of the sample catalog's
 * java-service templates (versioned folders, a `current` link, stop/start with rollbacks,
 * an HTTP health check).
 */
import { createServer } from "node:net";
import { readFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { createScratchDatabase } from "./postgres.js";
import { folderOf, releaseRef, tarGz, type FixtureBundle, type FixtureComponent, type FixtureScript } from "./bundle-fixture.js";

const SERVER_JS = `import http from "node:http";
import fs from "node:fs";
const conf = Object.fromEntries(fs.readFileSync(process.argv[2], "utf8").split("\\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
const version = fs.readFileSync(new URL("../VERSION", import.meta.url), "utf8").trim();
http.createServer((req, res) => {
  res.writeHead(req.url === "/health" ? 200 : 404, { "content-type": "application/json" });
  res.end(JSON.stringify({ version, greeting: conf.greeting }));
}).listen(Number(conf.port), "127.0.0.1");
`;

export function shopTarball(version: string): Buffer {
  return tarGz(folderOf({ "bin/server.mjs": SERVER_JS, VERSION: `${version}\n`, "lib/data.txt": `data of ${version}\n` }), { prefix: `shop-${version}` });
}

const ROOT = "${{ vars.INSTALL_ROOT }}/shop";
const start = `cd "${ROOT}" && nohup node current/bin/server.mjs "${ROOT}/app.properties" > server.log 2>&1 & echo $! > "${ROOT}/pid"`;
const stop = `if [ -f "${ROOT}/pid" ]; then kill $(cat "${ROOT}/pid") 2>/dev/null; rm -f "${ROOT}/pid"; sleep 0.3; fi`;

export interface ShopOptions {
  /** Adds a step that fails after the new version is healthy. */
  failing?: boolean;
  /** Adds a step that sleeps 30 s the first time it runs (marker file given), to be killed. */
  slowMarker?: string;
}

export function shopComponent(version: string, action: FixtureComponent["action"], fromVersion: string | null, options: ShopOptions = {}): FixtureComponent {
  const extract = { name: `unpack shop ${"${{ component.version }}"}`, type: "extract", platforms: ["vm"], artifact: "tarball", to: `${ROOT}/releases/${"${{ component.version }}"}`, strip: 1 };
  const template = { name: "render app.properties", type: "template", platforms: ["vm"], source: "config/app.properties.tpl", to: `${ROOT}/app.properties`, mode: "0640" };
  const sql = { name: "migrate the shop schema", type: "sql", database: "shop", timeout: 60 };
  const startStep = { name: "start shop", type: "run", command: start, timeout: 30, rollback: { type: "run", command: stop } };
  const health = { name: "wait for /health", type: "healthcheck", http: { url: "http://127.0.0.1:${{ vars.HTTP_PORT }}/health", expectStatus: 200 }, retries: 20, interval: 1, timeout: 2 };
  const extra: unknown[] = [];
  if (options.slowMarker) extra.push({ name: "slow data migration", type: "run", command: `if [ ! -f "${options.slowMarker}" ]; then touch "${options.slowMarker}"; echo $$ > "${options.slowMarker}.pid"; sleep 30; fi`, timeout: 60 });
  if (options.failing) extra.push({ name: "smoke test", type: "run", command: "echo 'smoke test: orders page returns 500' >&2; exit 3" });
  const switchTo = `ln -sfn "releases/${"${{ component.version }}"}" "${ROOT}/current.next" && mv -T "${ROOT}/current.next" "${ROOT}/current"`;
  return {
    name: "shop",
    version,
    action,
    fromVersion,
    service: {
      artifacts: [{ name: "tarball", kind: "binary", pattern: "shop-*.tar.gz" }],
      sql: [{ database: "shop", dialect: "postgresql" }],
      config: [{ source: "config/app.properties.tpl", target: `${ROOT}/app.properties`, mode: "0640" }],
      variables: {
        INSTALL_ROOT: { required: true },
        HTTP_PORT: { default: 8081 },
        GREETING: { default: "hello" },
        SHOP_DB_URL: { secret: true, required: true },
        API_SECRET: { secret: true, required: true },
      },
    },
    pipelines: {
      install: [extract, { name: "point current", type: "run", platforms: ["vm"], command: switchTo }, template, sql, startStep, ...extra, health],
      upgrade: [
        { name: "stop shop", type: "run", command: stop, rollback: { type: "run", command: start } },
        extract,
        {
          name: `switch to ${"${{ component.version }}"}`,
          type: "run",
          command: `readlink "${ROOT}/current" > "${ROOT}/previous" && ${switchTo}`,
          rollback: { type: "run", command: `ln -sfn "$(cat "${ROOT}/previous")" "${ROOT}/current.next" && mv -T "${ROOT}/current.next" "${ROOT}/current"` },
        },
        template,
        sql,
        startStep,
        health,
        ...extra,
      ],
      stop: [{ name: "stop shop", type: "run", command: stop }],
    },
    config: { "config/app.properties.tpl": "port=${{ vars.HTTP_PORT }}\ngreeting=${{ vars.GREETING }} from ${{ site.name }}\nrelease=${{ release.version }}\nsecret=${{ vars.API_SECRET }}\n" },
    artifacts: [{ filename: `shop-${version}.tar.gz`, kind: "binary", content: shopTarball(version) }],
  };
}

export const SCRIPTS = {
  v1: { component: "shop", version: "1.0", filename: "V1__orders.sql", type: "upgrade", orderVersion: "1", content: "CREATE TABLE orders (id serial PRIMARY KEY, item text NOT NULL);\nINSERT INTO orders (item) VALUES ('first');\n" },
  v2: { component: "shop", version: "2.0", filename: "V2__add_status.sql", type: "upgrade", orderVersion: "2", content: "ALTER TABLE orders ADD COLUMN status text NOT NULL DEFAULT 'new';\n" },
  u2: { component: "shop", version: "2.0", filename: "U2__add_status.sql", type: "undo", orderVersion: "2", content: "ALTER TABLE orders DROP COLUMN status;\n" },
} satisfies Record<string, FixtureScript>;

export const RELEASE_A = releaseRef("shop-suite", "1.0");
export const RELEASE_B = releaseRef("shop-suite", "2.0");

export function bundleA(): FixtureBundle {
  return { release: RELEASE_A, components: [shopComponent("1.0", "install", null)], sql: [{ database: "shop", dialect: "postgresql", scripts: [SCRIPTS.v1] }] };
}

export function bundleB(options: ShopOptions & { scripts?: FixtureScript[] } = {}): FixtureBundle {
  return {
    release: RELEASE_B,
    base: RELEASE_A,
    components: [shopComponent("2.0", "upgrade", "1.0", options)],
    sql: [{ database: "shop", dialect: "postgresql", scripts: options.scripts ?? [SCRIPTS.v2, SCRIPTS.u2] }],
    expects: { release: RELEASE_A, components: [{ name: "shop", version: "1.0" }], artifacts: [] },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.once("error", reject);
  });
}

/** A fresh PostgreSQL database standing in for the customer's. */
export async function customerDatabase(): Promise<{ url: string; query(sql: string): Promise<any[]>; drop(): Promise<void> }> {
  const database = await createScratchDatabase("ferry_site");
  return {
    url: database.url,
    async query(sql) {
      const client = new pg.Client({ connectionString: database.url });
      await client.connect();
      try {
        return (await client.query(sql)).rows;
      } finally {
        await client.end();
      }
    },
    drop: database.drop,
  };
}

/** Stops the shop server a test left running (its pid file), if any. */
export function stopShop(installRoot: string): void {
  try {
    process.kill(Number(readFileSync(path.join(installRoot, "shop", "pid"), "utf8").trim()));
  } catch {
    // Not running.
  }
}
