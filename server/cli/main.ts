/**
 * `ferry`: the server and the client commands (SPEC §7). Client commands talk to a server
 * over HTTP with --server/--token or FERRY_SERVER/FERRY_TOKEN.
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config.js";
import { DatabaseInUseError } from "../db/data-dir-lock.js";
import { startServer } from "../server.js";
import { CliError, requestOk, resolveTarget, type ServerTarget } from "./api-client.js";
import { pushFile } from "./push.js";
import { bundleCommand } from "./bundle.js";
import { releaseCommand } from "./release.js";
import { runWorker } from "../jobs/worker.js";
import { gcCommand, verifyStoreCommand } from "../gc/gc.cli.js";

const USAGE = `usage: ferry <command> [options]

  server                                   start the Ferry server (configured by environment, see README)
  worker                                   run background jobs only (with FERRY_EMBEDDED_WORKER=false servers)
  gc [--grace-minutes M] [--dry-run]       expire old bundles, delete unreferenced blobs older than M (60)
  verify-store                             re-hash every stored blob; exit 1 on corrupt or missing ones
  push <files…> --component C --version V  upload artifacts with their SHA-256
        [--kind K] [--sql-database D] [--sql-dialect D] [--sql-type T]
  user add <username> --role R [--role R…] [--password P]
  user disable|enable <username>           cut a user off at once (sessions, tokens, download links), or let them back
  token create --name N --role R [--role R…] [--expires-days D]
  release create <product>@<version> --component name@version… [--notes T] [--required]
  release seal|show <product>@<version>
  release diff <product>@<version> --from <version>
  bundle build --site SITE_ID --release product@version [--from V|installed] [--components a,b] [-o FILE]
  bundle verify FILE|DIR [--key key.pem | --server URL]   offline check of checksums and signature

  client options: --server URL (FERRY_SERVER), --token T (FERRY_TOKEN)`;

const clientOptions = {
  server: { type: "string" },
  token: { type: "string" },
} as const;

async function serve(): Promise<void> {
  const config = loadConfig();
  const running = await startServer(config);
  const stop = async (signal: string) => {
    running.ctx.logger.info({ signal }, "shutting down");
    await running.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

async function push(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      ...clientOptions,
      component: { type: "string" },
      version: { type: "string" },
      kind: { type: "string" },
      "sql-database": { type: "string" },
      "sql-dialect": { type: "string" },
      "sql-type": { type: "string" },
    },
  });
  if (!values.component || !values.version || !positionals.length) throw new CliError("usage: ferry push <files…> --component C --version V [--kind K]");
  const target = resolveTarget(values);
  for (const file of positionals) {
    const result = await pushFile(target, file, {
      component: values.component,
      version: values.version,
      kind: values.kind,
      sql: { database: values["sql-database"], dialect: values["sql-dialect"], type: values["sql-type"] },
    });
    const what = result.status === 201 ? "uploaded" : "already there";
    console.log(`${what}: ${values.component}/${values.version}/${file.split("/").pop()} sha256:${result.sha256}${result.sentBody ? "" : " (no body sent: server had the blob)"}`);
  }
}

async function userAdd(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { ...clientOptions, role: { type: "string", multiple: true }, password: { type: "string" } },
  });
  const [username] = positionals;
  if (!username || !values.role?.length) throw new CliError("usage: ferry user add <username> --role R [--role R…] [--password P]");
  const password = values.password ?? randomBytes(15).toString("base64url");
  const user = await requestOk(resolveTarget(values), "POST", "/api/v1/users", { json: { username, password, roles: values.role } });
  console.log(`created user ${user.username} with roles ${user.roles.join(", ")}`);
  if (!values.password) console.log(`password: ${password}`);
}

async function userSetDisabled(args: string[], disabled: boolean): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: clientOptions });
  const [username] = positionals;
  if (!username || positionals.length > 1) throw new CliError(`usage: ferry user ${disabled ? "disable" : "enable"} <username>`);
  const target = resolveTarget(values);
  const user = await findUser(target, username);
  const updated = await requestOk(target, "PATCH", `/api/v1/users/${user.id}`, { json: { disabled } });
  console.log(`${disabled ? "disabled" : "enabled"} user ${updated.username} (roles ${updated.roles.join(", ")})`);
}

/** The API changes users by id; people name them. Users are few: walk the list until the name turns up. */
async function findUser(target: ServerTarget, username: string): Promise<{ id: string; username: string }> {
  let cursor: string | null = null;
  do {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page = await requestOk(target, "GET", `/api/v1/users?limit=500${query}`);
    const items = page.items as Array<{ id: string; username: string }>;
    const found = items.find((user) => user.username === username);
    if (found) return found;
    cursor = page.nextCursor;
  } while (cursor);
  throw new CliError(`no user named ${username}`);
}

async function tokenCreate(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { ...clientOptions, name: { type: "string" }, role: { type: "string", multiple: true }, "expires-days": { type: "string" } },
  });
  if (!values.name || !values.role?.length) throw new CliError("usage: ferry token create --name N --role R [--role R…] [--expires-days D]");
  const expiresInDays = values["expires-days"] ? Number(values["expires-days"]) : undefined;
  const token = await requestOk(resolveTarget(values), "POST", "/api/v1/tokens", { json: { name: values.name, roles: values.role, expiresInDays } });
  console.log(token.token);
  console.error(`token ${token.id} (${token.roles.join(", ")})${token.expiresAt ? ` expires ${token.expiresAt}` : ""}; shown once`);
}

async function main(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  switch (command) {
    case "server":
      return serve();
    case "worker":
      return runWorker(loadConfig());
    case "gc":
      process.exit(await gcCommand(loadConfig(), argv.slice(1)));
    case "verify-store":
      process.exit(await verifyStoreCommand(loadConfig()));
    case "push":
      return push(argv.slice(1));
    case "user":
      if (sub === "add") return userAdd(rest);
      if (sub === "disable" || sub === "enable") return userSetDisabled(rest, sub === "disable");
      break;
    case "bundle":
      return bundleCommand(sub, rest);
    case "release":
      return releaseCommand(argv.slice(1));
    case "token":
      if (sub === "create") return tokenCreate(rest);
      break;
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
  }
  throw new CliError(`unknown command: ${argv.join(" ")}\n${USAGE}`);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  if (error instanceof ConfigError) {
    for (const line of error.problems) console.error(line);
    process.exit(2);
  }
  if (error instanceof CliError || error instanceof DatabaseInUseError || (error as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    console.error(`ferry: ${(error as Error).message}`);
    process.exit(1);
  }
  console.error(error);
  process.exit(1);
});
