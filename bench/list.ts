/**
 * List endpoints at scale (issue 7): BENCH_ARTIFACTS artifacts (100,000 by default) on
 * PostgreSQL, with the SQL scripts, releases and audit events that come with them, inserted
 * straight into the tables as the server stores them (one blob per artifact, every fifth
 * artifact a Flyway SQL script with its SqlScript row, releases with their components, a
 * valid hash-chained audit trail). A real `ferry server` process answers HTTP on loopback.
 *
 * Each scenario runs for BENCH_SECONDS with BENCH_CONCURRENCY clients, first through Ferry
 * (HTTP, auth, validation, Prisma, JSON), then as the equivalent hand-written SQL query
 * through `pg` on the same database (the baseline: what the database alone needs for the
 * same rows). Before timing, each scenario checks that both return the same rows. Also
 * walks every artifact page with the keyset cursor (one client), and samples the server's
 * peak RSS over the whole run.
 *
 *   npm run bench -- list
 *
 * Env: BENCH_ARTIFACTS (100000), BENCH_SECONDS (5, per scenario and side),
 * BENCH_CONCURRENCY (16), BENCH_PAGE (50, the API's default page size),
 * BENCH_RELEASES (artifacts / 10), BENCH_AUDIT (= artifacts),
 * FERRY_TEST_DATABASE_URL (postgresql://postgres@127.0.0.1:5432/test), BENCH_SEED_ONLY=1 (seed,
 * print the database URL and keep the database, to EXPLAIN queries by hand; drop it after).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { Agent } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { canonicalJson } from "../server/util/canonical-json.js";
import { createScratchDatabase } from "../test/support/postgres.js";
import { startFerryProcess } from "../test/support/process.js";
import { benchServerNodeArgs, callLoopback, currentRssMiB, load, percentile, printTable, sampleRss } from "./lib.js";

const ARTIFACTS = Number(process.env.BENCH_ARTIFACTS ?? 100_000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const PAGE = Number(process.env.BENCH_PAGE ?? 50);
const loadOptions = { concurrency: CONCURRENCY, seconds: SECONDS };
const RELEASES = Number(process.env.BENCH_RELEASES ?? Math.max(100, Math.floor(ARTIFACTS / 10)));
const AUDIT = Number(process.env.BENCH_AUDIT ?? ARTIFACTS);
const COMPONENTS = 50;
const FILES_PER_VERSION = 5;
const PRODUCTS = 20;
const root = path.resolve(import.meta.dirname, "..");

const componentName = (c: number) => `svc-${String(c).padStart(2, "0")}`;
const versionOf = (v: number) => `1.${Math.floor(v / 100)}.${v % 100}`;

// ---------------------------------------------------------------- seeding

/** Blobs, artifacts and the SqlScript rows of the `.sql` ones, generated inside PostgreSQL. */
async function seedArtifacts(db: pg.Client): Promise<void> {
  // i → file f, component c, version v; createdAt one second apart (millisecond precision
  // like every timestamp the server writes), newest last.
  const rows = `
    SELECT i, i % ${FILES_PER_VERSION} AS f, 'svc-' || lpad(((i / ${FILES_PER_VERSION}) % ${COMPONENTS})::text, 2, '0') AS component,
           '1.' || ((i / ${FILES_PER_VERSION * COMPONENTS}) / 100) || '.' || ((i / ${FILES_PER_VERSION * COMPONENTS}) % 100) AS version,
           encode(sha256(convert_to('ferry-bench-' || i, 'UTF8')), 'hex') AS sha256,
           date_trunc('milliseconds', now()) - make_interval(secs => $1::int - i) AS at
    FROM generate_series(0, $1::int - 1) AS i`;
  await db.query(`INSERT INTO "Blob" (sha256, size, "createdAt") SELECT sha256, 4096 + i, at FROM (${rows}) g`, [ARTIFACTS]);
  await db.query(
    `INSERT INTO "Artifact" (id, component, version, filename, kind, sha256, size, "contentType", "uploadedBy", "createdAt")
     SELECT gen_random_uuid()::text, component, version,
            CASE f WHEN 0 THEN component || '-' || version || '-linux-x64.tar.gz'
                   WHEN 1 THEN component || '-' || version || '-linux-arm64.tar.gz'
                   WHEN 2 THEN 'config-' || version || '.yaml'
                   WHEN 3 THEN component || '-chart-' || version || '.tgz'
                   ELSE 'V' || replace(version, '.', '_') || '__update_' || replace(component, '-', '_') || '.sql' END,
            CASE f WHEN 2 THEN 'config' WHEN 3 THEN 'chart' WHEN 4 THEN 'sql' ELSE 'binary' END,
            sha256, 4096 + i,
            CASE f WHEN 2 THEN 'application/yaml' WHEN 4 THEN 'application/sql' ELSE 'application/gzip' END,
            'ci', at
     FROM (${rows}) g`,
    [ARTIFACTS],
  );
  // Two scripts in three approved, the rest pending; every tenth has a lint warning.
  await db.query(
    `INSERT INTO "SqlScript" (id, "artifactId", component, database, dialect, type, "orderVersion", "orderKey", description, status, "approvedSha256", findings, "uploadedBy", "createdAt")
     SELECT gen_random_uuid()::text, a.id, a.component, 'orders', 'postgresql', 'upgrade', a.version,
            array_to_string(ARRAY(SELECT lpad(p, 10, '0') FROM unnest(string_to_array(a.version, '.')) AS p), '.'),
            'update ' || replace(a.component, '-', ' '),
            CASE WHEN n % 3 = 0 THEN 'pending' ELSE 'approved' END,
            CASE WHEN n % 3 = 0 THEN NULL ELSE a.sha256 END,
            CASE WHEN n % 10 = 0 THEN '[{"rule":"update_without_where","severity":"warning","statement":1,"line":1,"message":"UPDATE without WHERE"}]'::jsonb ELSE '[]'::jsonb END,
            'ci', a."createdAt"
     FROM (SELECT *, row_number() OVER (ORDER BY "createdAt") AS n FROM "Artifact" WHERE kind = 'sql') a`,
  );
}

/** Releases of PRODUCTS products, five components each, all sealed but the newest of each product. */
async function seedReleases(db: pg.Client): Promise<void> {
  const versions = Math.max(1, Math.floor(ARTIFACTS / (FILES_PER_VERSION * COMPONENTS)));
  await db.query(
    `INSERT INTO "Release" (id, product, version, status, required, notes, digest, "sealedAt", "sealedBy", "createdBy", "createdAt", "updatedAt")
     SELECT gen_random_uuid()::text, 'product-' || lpad((i % ${PRODUCTS})::text, 2, '0'), (i / ${PRODUCTS} + 1) || '.0.0',
            CASE WHEN i >= $1::int - ${PRODUCTS} THEN 'draft' ELSE 'sealed' END, i % 50 = 0, 'Release notes for build ' || i,
            CASE WHEN i >= $1::int - ${PRODUCTS} THEN NULL ELSE encode(sha256(convert_to('release-' || i, 'UTF8')), 'hex') END,
            CASE WHEN i >= $1::int - ${PRODUCTS} THEN NULL ELSE at END,
            CASE WHEN i >= $1::int - ${PRODUCTS} THEN NULL ELSE 'delivery' END,
            'delivery', at, at
     FROM (SELECT i, date_trunc('milliseconds', now()) - make_interval(secs => $1::int - i) AS at FROM generate_series(0, $1::int - 1) AS i) g`,
    [RELEASES],
  );
  await db.query(
    `INSERT INTO "ReleaseComponent" ("releaseId", name, version, position)
     SELECT r.id, 'svc-' || lpad(((r.n * 7 + k * 11) % ${COMPONENTS})::text, 2, '0'), '1.' || ((r.n % $1::int) / 100) || '.' || ((r.n % $1::int) % 100), k
     FROM (SELECT id, row_number() OVER (ORDER BY "createdAt") AS n FROM "Release") r, generate_series(0, 4) AS k`,
    [versions],
  );
}

/** A valid hash chain (as server/audit/audit.service.ts computes it): uploads by `ci`, site heartbeats, a few admin actions. */
async function seedAudit(db: pg.Client): Promise<void> {
  // Continues the chain the server may have begun at start-up.
  const last = (await db.query(`SELECT seq, hash FROM "AuditEvent" ORDER BY seq DESC LIMIT 1`)).rows[0] as { seq: string; hash: string } | undefined;
  const firstSeq = Number(last?.seq ?? 0) + 1;
  const base = Date.now() - AUDIT * 1000;
  let prevHash = last?.hash ?? "0".repeat(64);
  for (let start = 0; start < AUDIT; start += 5_000) {
    const cols = { seq: [] as string[], at: [] as string[], actor: [] as string[], action: [] as string[], targetType: [] as string[], target: [] as string[], details: [] as string[], prevHash: [] as string[], hash: [] as string[] };
    for (let i = start; i < Math.min(AUDIT, start + 5_000); i++) {
      const at = new Date(base + i * 1000);
      const c = i % COMPONENTS;
      const kind = i % 100 === 0 ? "admin" : i % 3 === 0 ? "site" : "ci";
      const event =
        kind === "admin"
          ? { actor: "admin", action: "user.create", targetType: "user", target: `user-${i}`, details: { roles: ["viewer"] } }
          : kind === "site"
            ? { actor: `site:${String(i % 1000).padStart(8, "0")}-0000-4000-8000-000000000000`, action: "agent.report", targetType: "site", target: `site-${i % 1000}`, details: { components: 3 } }
            : { actor: "ci", action: "artifact.upload", targetType: "artifact", target: `${componentName(c)}/${versionOf(Math.floor(i / COMPONENTS) % 400)}/${componentName(c)}.tar.gz`, details: { sha256: createHash("sha256").update(String(i)).digest("hex"), size: 4096 + i, created: true } };
      const hash = createHash("sha256")
        .update(prevHash)
        .update("\n")
        .update(canonicalJson([at.toISOString(), event.actor, event.action, event.targetType, event.target, event.details]))
        .digest("hex");
      cols.seq.push(String(firstSeq + i));
      cols.at.push(at.toISOString());
      cols.actor.push(event.actor);
      cols.action.push(event.action);
      cols.targetType.push(event.targetType);
      cols.target.push(event.target);
      cols.details.push(JSON.stringify(event.details));
      cols.prevHash.push(prevHash);
      cols.hash.push(hash);
      prevHash = hash;
    }
    await db.query(
      `INSERT INTO "AuditEvent" (seq, at, actor, action, "targetType", target, details, "requestId", "prevHash", hash)
       SELECT seq, at, actor, action, tt, target, details::jsonb, NULL, prev, hash
       FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])
         AS t(seq, at, actor, action, tt, target, details, prev, hash)`,
      [cols.seq, cols.at, cols.actor, cols.action, cols.targetType, cols.target, cols.details, cols.prevHash, cols.hash],
    );
  }
  // The server's own events (the admin login) come after the seeded ones.
  await db.query(`SELECT setval(pg_get_serial_sequence('"AuditEvent"', 'seq'), $1::bigint)`, [firstSeq + AUDIT - 1]);
}

// ---------------------------------------------------------------- clients

// ---------------------------------------------------------------- scenarios

interface Params {
  query: string;
  sql: string;
  values: unknown[];
}

interface Scenario {
  name: string;
  /** The n-th request's URL (under /api/v1) and the equivalent SQL. */
  make(n: number): Params;
  /** The identity of each row, from the API item and from the SQL row. */
  apiKey(item: Record<string, unknown>): string;
  sqlKey(row: Record<string, unknown>): string;
}

/**
 * One list request written twice: as the API's search parameters and as the WHERE clause of
 * the baseline SQL. `$?` in a condition stands for the parameter number of the value(s)
 * just added, in order.
 */
class ListQuery {
  readonly search = new URLSearchParams({ limit: String(PAGE) });
  private readonly where: string[] = [];
  readonly values: unknown[] = [];

  /** A filter the API takes as `?name=value` and SQL as `condition`. */
  filter(name: string, value: string | undefined, condition: string): this {
    if (value === undefined) return this;
    this.search.set(name, value);
    return this.condition(condition, value);
  }

  /** A SQL condition on `values` (each `$?` takes the next one). */
  condition(condition: string, ...values: unknown[]): this {
    const first = this.values.length;
    this.values.push(...values);
    let index = first;
    this.where.push(condition.replaceAll("$?", () => `$${Math.min(++index, this.values.length)}`));
    return this;
  }

  cursor(cursor: string | undefined): this {
    if (cursor !== undefined) this.search.set("cursor", cursor);
    return this;
  }

  get whereClause(): string {
    return this.where.length ? `WHERE ${this.where.join(" AND ")}` : "";
  }
}

/** A scenario cycling through `params`; `build` adds each one's filters and names the API path and SQL. */
function scenario<P>(name: string, params: P[], build: (p: P, q: ListQuery) => { path: string; sql: string }, key: (x: Record<string, unknown>) => string): Scenario {
  return {
    name,
    make(n) {
      const q = new ListQuery();
      const { path, sql } = build(params[n % params.length]!, q);
      return { query: `${path}?${q.search}`, sql, values: q.values };
    },
    apiKey: key,
    sqlKey: key,
  };
}

const artifactColumns = `a.id, a.component, a.version, a.filename, a.kind, a.sha256, a.size, a."contentType", a."uploadedBy", a."createdAt",
  s.id AS "sqlId", s.database, s.dialect, s.type, s."orderVersion", s.status`;

function artifactScenario(name: string, params: Array<{ component?: string; version?: string; kind?: string; q?: string; after?: [string, string, string]; cursor?: string }>): Scenario {
  return scenario(
    name,
    params,
    (p, q) => {
      q.filter("component", p.component, "a.component = $?").filter("version", p.version, "a.version = $?").filter("kind", p.kind, "a.kind = $?");
      // One value used twice: both placeholders name it.
      if (p.q !== undefined) q.filter("q", p.q, "(lower(a.filename) LIKE '%' || lower($?) || '%' OR a.component LIKE '%' || lower($?) || '%')");
      q.cursor(p.cursor);
      if (p.after) q.condition("(a.component, a.version, a.filename) > ($?, $?, $?)", ...p.after);
      return {
        path: "/api/v1/artifacts",
        sql: `SELECT ${artifactColumns} FROM "Artifact" a LEFT JOIN "SqlScript" s ON s."artifactId" = a.id
              ${q.whereClause} ORDER BY a.component, a.version, a.filename LIMIT ${PAGE + 1}`,
      };
    },
    (x) => `${x.component}/${x.version}/${x.filename}`,
  );
}

const releaseKey = (x: Record<string, unknown>) => `${x.product}@${x.version}`;

function releaseScenario(name: string, params: Array<{ product?: string; after?: [string, string]; cursor?: string }>): Scenario {
  return scenario(
    name,
    params,
    (p, q) => {
      q.filter("product", p.product, "r.product = $?").cursor(p.cursor);
      if (p.after) q.condition(`(r."createdAt", r.id) < ($?::timestamptz, $?)`, ...p.after);
      return {
        path: "/api/v1/releases",
        sql: `SELECT r.*, (SELECT json_agg(json_build_object('name', c.name, 'version', c.version) ORDER BY c.position) FROM "ReleaseComponent" c WHERE c."releaseId" = r.id) AS components
              FROM "Release" r ${q.whereClause} ORDER BY r."createdAt" DESC, r.id DESC LIMIT ${PAGE + 1}`,
      };
    },
    releaseKey,
  );
}

function auditScenario(name: string, params: Array<{ actor?: string; target?: string; cursor?: string }>): Scenario {
  return scenario(
    name,
    params,
    (p, q) => {
      q.filter("actor", p.actor, "actor = $?").filter("target", p.target, "starts_with(target, $?)").filter("cursor", p.cursor, "seq < $?::bigint");
      return { path: "/api/v1/audit", sql: `SELECT * FROM "AuditEvent" ${q.whereClause} ORDER BY seq DESC LIMIT ${PAGE + 1}` };
    },
    (x) => String(x.seq),
  );
}

function sqlScriptScenario(name: string, params: Array<{ status?: string; component?: string; cursor?: string }>): Scenario {
  return scenario(
    name,
    params,
    (p, q) => {
      q.filter("status", p.status, "s.status = $?").filter("component", p.component, "s.component = $?");
      q.filter("cursor", p.cursor, `(s."createdAt", s.id) < (SELECT "createdAt", id FROM "SqlScript" WHERE id = $?)`);
      return {
        path: "/api/v1/sql-scripts",
        sql: `SELECT s.*, a.version, a.filename, a.sha256, a.size FROM "SqlScript" s JOIN "Artifact" a ON a.id = s."artifactId"
              ${q.whereClause} ORDER BY s."createdAt" DESC, s.id DESC LIMIT ${PAGE + 1}`,
      };
    },
    (x) => String(x.id),
  );
}

/** `n` values spread over the list (for random-depth pages). */
function spread<T>(list: T[], n: number): T[] {
  if (list.length <= n) return list;
  return Array.from({ length: n }, (_, i) => list[Math.floor((i * list.length) / n)]!);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const database = await createScratchDatabase("ferry_bench_list");
  const dataDir = mkdtempSync(path.join(tmpdir(), "ferry-bench-list-"));
  const pool = new pg.Pool({ connectionString: database.url, max: Math.min(CONCURRENCY, 20) });
  let ferry: Awaited<ReturnType<typeof startFerryProcess>> | null = null;
  let keep = false;
  try {
    ferry = await startFerryProcess({ DATABASE_URL: database.url, FERRY_DATA_DIR: dataDir, FERRY_CATALOG_DIR: path.join(root, "catalog"), LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn" }, ["server"], benchServerNodeArgs());
    const port = Number(new URL(ferry.url).port);

    const seedStarted = Date.now();
    const seeder = new pg.Client({ connectionString: database.url });
    await seeder.connect();
    await seedArtifacts(seeder);
    await seedReleases(seeder);
    await seedAudit(seeder);
    await seeder.query(`VACUUM ANALYZE`);
    const counts = (await seeder.query(`SELECT (SELECT count(*) FROM "Artifact") AS artifacts, (SELECT count(*) FROM "SqlScript") AS scripts, (SELECT count(*) FROM "Release") AS releases, (SELECT count(*) FROM "AuditEvent") AS audit`)).rows[0];
    await seeder.end();
    if (process.env.BENCH_SEED_ONLY === "1") {
      console.log(`seeded ${counts.artifacts} artifacts; database kept: ${database.url}`);
      keep = true;
      return;
    }
    const token = await ferry.login();
    console.log(`seeded ${counts.artifacts} artifacts, ${counts.scripts} SQL scripts, ${counts.releases} releases, ${counts.audit} audit events in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);

    const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
    const pid = ferry.child.pid!;
    const idle = currentRssMiB(pid);
    const rss = sampleRss(pid);
    const api = async (urlPath: string) => {
      const res = await callLoopback(agent, port, token, "GET", urlPath);
      if (res.status !== 200) throw new Error(`GET ${urlPath}: ${res.status} ${res.body.slice(0, 500)}`);
      return JSON.parse(res.body) as { items: Array<Record<string, unknown>>; nextCursor: string | null };
    };

    // -- the full keyset walk over every artifact, one client, Ferry then SQL.
    const walk: Array<{ cursor?: string; after?: [string, string, string] }> = [{}];
    const ferryPages: number[] = [];
    let walked = 0;
    const walkStarted = process.hrtime.bigint();
    for (let cursor: string | null = null; ; ) {
      const t = process.hrtime.bigint();
      const page = await api(`/api/v1/artifacts?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
      ferryPages.push(Number(process.hrtime.bigint() - t) / 1e6);
      walked += page.items.length;
      if (!page.nextCursor) break;
      const last = page.items.at(-1)!;
      cursor = page.nextCursor;
      walk.push({ cursor, after: [String(last.component), String(last.version), String(last.filename)] });
    }
    const ferryWalkSeconds = Number(process.hrtime.bigint() - walkStarted) / 1e9;
    if (walked !== Number(counts.artifacts)) throw new Error(`the cursor walk saw ${walked} artifacts of ${counts.artifacts}`);
    const sqlPages: number[] = [];
    const sqlWalkStarted = process.hrtime.bigint();
    const walkScenario = artifactScenario("walk", walk);
    for (let i = 0; i < walk.length; i++) {
      const { sql, values } = walkScenario.make(i);
      const t = process.hrtime.bigint();
      await pool.query(sql, values);
      sqlPages.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const sqlWalkSeconds = Number(process.hrtime.bigint() - sqlWalkStarted) / 1e9;
    const tenth = Math.max(1, Math.floor(ferryPages.length / 10));
    const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);
    const firstTenth = median(ferryPages.slice(0, tenth));
    const lastTenth = median(ferryPages.slice(-tenth));

    // -- parameters for the concurrent scenarios.
    const deep = spread(walk.slice(Math.floor(walk.length / 2)), 200);
    const components = Array.from({ length: COMPONENTS }, (_, c) => componentName(c));
    const versions = Math.max(1, Math.floor(ARTIFACTS / (FILES_PER_VERSION * COMPONENTS)));
    const componentVersions = Array.from({ length: 100 }, (_, k) => ({ component: componentName((k * 7) % COMPONENTS), version: versionOf((k * 13) % versions) }));
    // Cursors to release and SQL script pages at every depth: walk each list once, and check
    // that the walk sees every row exactly once.
    const releasePages: Array<{ cursor?: string; after?: [string, string] }> = [];
    {
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page = await api(`/api/v1/releases?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
        for (const item of page.items) seen.add(releaseKey(item));
        cursor = page.nextCursor;
        if (cursor) {
          const [at, id] = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as [string, string];
          releasePages.push({ cursor, after: [at, id] });
        }
      } while (cursor);
      if (seen.size !== Number(counts.releases)) throw new Error(`the release cursor walk saw ${seen.size} releases of ${counts.releases}`);
    }
    const maxSeq = Number((await pool.query(`SELECT max(seq) AS seq FROM "AuditEvent"`)).rows[0].seq);
    const auditDeep = Array.from({ length: 200 }, (_, k) => ({ cursor: String(Math.floor(maxSeq / 2 + (k * maxSeq) / 400)) }));
    const scriptPages: Array<{ cursor: string }> = [];
    {
      const seen = new Set<string>();
      let cursor: string | null = null;
      do {
        const page = await api(`/api/v1/sql-scripts?limit=${PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
        for (const item of page.items) seen.add(String(item.id));
        cursor = page.nextCursor;
        if (cursor) scriptPages.push({ cursor });
      } while (cursor);
      if (seen.size !== Number(counts.scripts)) throw new Error(`the SQL script cursor walk saw ${seen.size} scripts of ${counts.scripts}`);
    }

    const scenarios: Scenario[] = [
      artifactScenario("artifacts: first page", [{}]),
      artifactScenario("artifacts: deep keyset pages", deep),
      artifactScenario("artifacts: ?component=", components.map((component) => ({ component }))),
      artifactScenario("artifacts: ?component=&version=", componentVersions),
      artifactScenario("artifacts: ?kind=sql", [{ kind: "sql" }]),
      artifactScenario("artifacts: ?q= (broad: 'arm64')", [{ q: "arm64" }]),
      artifactScenario("artifacts: ?q= (selective)", Array.from({ length: 20 }, (_, k) => ({ q: `${componentName(k)}-${versionOf((k * 17) % versions)}-linux` }))),
      releaseScenario("releases: first page", [{}]),
      releaseScenario("releases: deep keyset pages", spread(releasePages, 200)),
      releaseScenario("releases: ?product=", Array.from({ length: PRODUCTS }, (_, p) => ({ product: `product-${String(p).padStart(2, "0")}` }))),
      auditScenario("audit: first page", [{}]),
      auditScenario("audit: deep pages", auditDeep),
      auditScenario("audit: ?actor= (admin, 1%)", [{ actor: "admin" }]),
      auditScenario("audit: ?actor= (one site, 0.03%)", [{ actor: "site:00000003-0000-4000-8000-000000000000" }]),
      auditScenario("audit: ?target= prefix", components.map((c) => ({ target: `${c}/` }))),
      sqlScriptScenario("sql-scripts: first page", [{}]),
      sqlScriptScenario("sql-scripts: deep cursor pages", spread(scriptPages, 200)),
      sqlScriptScenario("sql-scripts: ?status=pending", [{ status: "pending" }]),
      sqlScriptScenario("sql-scripts: ?component=", components.map((component) => ({ component }))),
    ];

    const rows: Array<Record<string, string | number>> = [];
    const ratios: Array<{ name: string; ratio: number }> = [];
    for (const scenario of scenarios) {
      // Same rows both ways, checked on every parameter set of the scenario (up to 20).
      const { query: firstQuery } = scenario.make(0);
      const distinct = new Set<string>();
      for (let n = 0; n < 20; n++) {
        const p = scenario.make(n);
        if (distinct.has(p.query)) continue;
        distinct.add(p.query);
        const page = await api(p.query);
        const apiKeys = page.items.map(scenario.apiKey);
        const sqlRows = (await pool.query(p.sql, p.values)).rows as Array<Record<string, unknown>>;
        const sqlKeys = sqlRows.slice(0, PAGE).map(scenario.sqlKey);
        if (JSON.stringify(apiKeys) !== JSON.stringify(sqlKeys)) {
          throw new Error(`${scenario.name}: Ferry and the SQL baseline disagree on ${p.query}\n ferry: ${apiKeys.slice(0, 5).join(", ")}…\n sql:   ${sqlKeys.slice(0, 5).join(", ")}…`);
        }
        if (!apiKeys.length) throw new Error(`${scenario.name}: ${p.query} returned no rows; the scenario measures nothing`);
      }
      const statuses = new Map<number, number>();
      const viaFerry = await load(async (n) => {
        const res = await callLoopback(agent, port, token, "GET", scenario.make(n).query);
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }, loadOptions);
      if (statuses.size !== 1 || !statuses.has(200)) throw new Error(`${scenario.name} (${firstQuery}): statuses ${[...statuses].map(([s, c]) => `${s}×${c}`).join(" ")}`);
      const viaSql = await load(async (n) => {
        const p = scenario.make(n);
        await pool.query(p.sql, p.values);
      }, loadOptions);
      const ferryRate = viaFerry.calls / viaFerry.seconds;
      const sqlRate = viaSql.calls / viaSql.seconds;
      ratios.push({ name: scenario.name, ratio: ferryRate / sqlRate });
      rows.push({
        scenario: scenario.name,
        "ferry req/s": ferryRate.toFixed(0),
        "ferry p50 ms": percentile(viaFerry.latencies, 50).toFixed(1),
        "ferry p99 ms": percentile(viaFerry.latencies, 99).toFixed(1),
        "SQL req/s": sqlRate.toFixed(0),
        "SQL p50 ms": percentile(viaSql.latencies, 50).toFixed(1),
        "SQL p99 ms": percentile(viaSql.latencies, 99).toFixed(1),
        "ferry/SQL": (ferryRate / sqlRate).toFixed(2),
      });
    }
    const peak = rss.stop();
    agent.destroy();

    console.log(`\n${counts.artifacts} artifacts, page size ${PAGE}, ${CONCURRENCY} concurrent clients, ${SECONDS} s per scenario and side; ferry idle RSS ${idle.toFixed(0)} MiB`);
    printTable(rows);
    console.log(`\nkeyset walk over all ${walked} artifacts (${ferryPages.length} pages, one client):`);
    printTable([
      { via: "ferry", seconds: ferryWalkSeconds.toFixed(2), "pages/s": (ferryPages.length / ferryWalkSeconds).toFixed(0), "p50 ms": median(ferryPages).toFixed(1), "p99 ms": percentile([...ferryPages].sort((a, b) => a - b), 99).toFixed(1) },
      { via: "SQL", seconds: sqlWalkSeconds.toFixed(2), "pages/s": (sqlPages.length / sqlWalkSeconds).toFixed(0), "p50 ms": median(sqlPages).toFixed(1), "p99 ms": percentile([...sqlPages].sort((a, b) => a - b), 99).toFixed(1) },
    ]);
    console.log(`\nratio walk ferry/SQL throughput: ${(sqlWalkSeconds / ferryWalkSeconds).toFixed(2)}`);
    console.log(`ratio last/first tenth of the walk, ferry p50 per page: ${(lastTenth / firstTenth).toFixed(2)} (keyset paging: near 1, OFFSET would grow with depth)`);
    for (const { name, ratio } of ratios) console.log(`ratio ferry/SQL req/s, ${name}: ${ratio.toFixed(2)}`);
    console.log(`peak server RSS during the list load: ${peak.toFixed(0)} MiB (idle ${idle.toFixed(0)} MiB)`);
  } finally {
    await pool.end();
    await ferry?.stop();
    if (!keep) await database.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
