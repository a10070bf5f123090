/**
 * A PostgreSQL cluster of the test's own (initdb into a temporary directory, a free
 * loopback port, trust authentication), for tests that stop or restart PostgreSQL: the
 * shared server on 127.0.0.1:5432 serves other people's tests at the same time and must
 * never be restarted. Uses Debian's binaries (/usr/lib/postgresql/<version>/bin, or
 * FERRY_TEST_PG_BINDIR); as root they run as the `postgres` user, since PostgreSQL
 * refuses to run as root.
 */
import { execFile, execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./process.js";

const run = promisify(execFile);

export interface PrivatePostgres {
  /** postgresql://postgres@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  /** `pg_ctl restart -m fast`: every connection is closed, the server is back when this resolves. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m fast`: connections are closed and new ones refused until start(). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** The server's log (startup, shutdown, errors), for failure messages. */
  log(): string;
  /** Stops the cluster (immediate) and deletes its directory. */
  close(): Promise<void>;
}

/** The directory holding initdb and pg_ctl, newest installed major version first; null when none. */
export function postgresBinDir(): string | null {
  const configured = process.env.FERRY_TEST_PG_BINDIR;
  if (configured) return existsSync(path.join(configured, "initdb")) ? configured : null;
  const base = "/usr/lib/postgresql";
  if (!existsSync(base)) return null;
  const versions = readdirSync(base)
    .filter((name) => existsSync(path.join(base, name, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(base, versions[0]!, "bin") : null;
}

function postgresUid(): { uid: number; gid: number } | null {
  if (process.getuid?.() !== 0) return null;
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((entry) => entry.startsWith("postgres:"));
  if (!line) throw new Error("running as root, but there is no `postgres` user to run PostgreSQL as");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

export async function startPrivatePostgres(options: { database?: string } = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no PostgreSQL binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin: install the `postgresql` package or set FERRY_TEST_PG_BINDIR");
  const owner = postgresUid();
  const dir = mkdtempSync(path.join(tmpdir(), "ferry-private-pg-"));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = path.join(dir, "data");
  const logFile = path.join(dir, "server.log");
  const port = await freePort();
  const asOwner = (tool: string, args: string[]) =>
    owner ? run("runuser", ["-u", "postgres", "--", path.join(bin, tool), ...args], { cwd: dir }) : run(path.join(bin, tool), args, { cwd: dir });
  const pgCtl = async (...args: string[]) => {
    try {
      await asOwner("pg_ctl", ["-D", data, "-l", logFile, "-t", "60", ...args]);
    } catch (error) {
      throw new Error(`pg_ctl ${args.join(" ")} failed: ${(error as { stderr?: string }).stderr ?? (error as Error).message}\n${readLog()}`);
    }
  };
  const readLog = () => (existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-8000) : "");

  await asOwner("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--no-instructions"]).catch((error: { stderr?: string; message: string }) => {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${error.stderr ?? error.message}`);
  });
  // Small and fast: a test database, on a machine shared with others; the socket stays in our directory.
  const settings = ["listen_addresses=127.0.0.1", `port=${port}`, `unix_socket_directories=${dir}`, "fsync=off", "synchronous_commit=off", "full_page_writes=off", "shared_buffers=16MB", "max_connections=60"];
  await pgCtl("-w", "-o", settings.map((setting) => `-c ${setting}`).join(" "), "start").catch((error: Error) => {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  });
  const database = options.database ?? "ferry";
  const admin = new pg.Client({ connectionString: `postgresql://postgres@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();

  let closed = false;
  // pg_ctl detaches the server: should the test process end without close() (an uncaught
  // error, a timeout), stop it on the way out rather than leave it running.
  const stopOnExit = () => {
    if (closed) return;
    try {
      execFileSync(owner ? "runuser" : path.join(bin, "pg_ctl"), [...(owner ? ["-u", "postgres", "--", path.join(bin, "pg_ctl")] : []), "-D", data, "-m", "immediate", "-w", "stop"], { stdio: "ignore" });
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // already stopped
    }
  };
  process.once("exit", stopOnExit);
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/${database}`,
    port,
    // pg_ctl keeps the -o options of the last start in postmaster.opts and reuses them on restart.
    restart: () => pgCtl("-w", "-m", "fast", "restart"),
    stop: () => pgCtl("-w", "-m", "fast", "stop"),
    start: () => pgCtl("-w", "-o", settings.map((setting) => `-c ${setting}`).join(" "), "start"),
    log: readLog,
    async close() {
      if (closed) return;
      closed = true;
      process.removeListener("exit", stopOnExit);
      await asOwner("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
