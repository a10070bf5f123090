/**
 * `ferry-agent`: the site agent. For now: `ferry-agent verify <bundle.tar|bundle.tar.gz|dir> [--key key.pem]`.
 * Bundled by esbuild into every bundle as agent/ferry-agent.mjs; Node built-ins only.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { formatReport, verifyBundle } from "./verify.js";
import { applyCommand, statusCommandLine } from "./cli.js";
import { runCommand } from "./run-cli.js";

const USAGE = `usage: ferry-agent <command>

  verify <bundle.tar|bundle.tar.gz|dir> [--key key.pem] [--json]
      checks the archive, every checksum (manifest and SHA256SUMS) and, with --key, the
      manifest signature; exits 1 naming each file that fails

  apply <bundle.tar|bundle.tar.gz|dir> --workdir DIR [--vars FILE] [--key key.pem]
        [--dry-run] [--force] [--report FILE] [--allow-unsigned]
      verifies, then installs or upgrades the site; JSON lines on stdout; exits 0 when
      the apply succeeded (or the dry run planned), 1 otherwise (rolled back, drift, …)

  run --server URL --token T --workdir DIR [--vars FILE] [--key key.pem] [--once] [--wait SECONDS]
      the online agent: long-polls the server with the site token, downloads each deployment's
      bundle (resuming), applies it and streams its steps; --once handles one deployment and
      exits 0 when it succeeded; SIGTERM stops (an apply in progress is rolled back)

  status --workdir DIR [--json]
      the installed release, components and files, and any interrupted apply`;

async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { key: { type: "string" }, json: { type: "boolean" } } });
  const [target] = positionals;
  if (!target) {
    console.error(USAGE);
    return 2;
  }
  const publicKeyPem = values.key ? await readFile(values.key, "utf8") : undefined;
  const report = await verifyBundle(target, { publicKeyPem });
  console.log(values.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return report.ok ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "verify":
      return verifyCommand(rest);
    case "apply":
      return applyCommand(rest, USAGE);
    case "status":
      return statusCommandLine(rest, USAGE);
    case "run":
      return runCommand(rest, USAGE);
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return 0;
    default:
      console.error(`ferry-agent: unknown command ${command}\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`ferry-agent: ${(error as Error).message}`);
    process.exit(1);
  },
);
