/** Argument parsing for `apply` and `status` (main.ts dispatches). */
import { parseArgs } from "node:util";
import { applyBundle } from "./apply.js";
import { statusCommand } from "./status.js";

export async function applyCommand(args: string[], usage: string): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      workdir: { type: "string" },
      vars: { type: "string" },
      key: { type: "string" },
      report: { type: "string" },
      "dry-run": { type: "boolean" },
      force: { type: "boolean" },
      "allow-unsigned": { type: "boolean" },
    },
  });
  const [bundle] = positionals;
  const workdir = values.workdir ?? process.env.FERRY_AGENT_WORKDIR;
  if (!bundle || !workdir) {
    console.error(usage);
    return 2;
  }
  // SIGTERM/SIGINT stop the running step (its process group) and roll back, rather than leave a half-applied site.
  const controller = new AbortController();
  const stop = () => controller.abort(new Error("the agent was asked to stop"));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // Whoever reads our output may go away (an SSH deployment whose Ferry worker died): writes
  // then fail with EPIPE. Dying at the next log line would cut the apply at a random point;
  // it goes on to its end instead (the log is also in the work directory) and writes its
  // report, which the next attempt of the deployment picks up.
  for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
  const report = await applyBundle({
    bundle,
    workdir,
    varsFile: values.vars,
    keyFile: values.key,
    reportFile: values.report,
    dryRun: values["dry-run"],
    force: values.force,
    allowUnsigned: values["allow-unsigned"],
    signal: controller.signal,
  });
  return report.result === "succeeded" || report.result === "dry_run" ? 0 : 1;
}

export async function statusCommandLine(args: string[], usage: string): Promise<number> {
  const { values } = parseArgs({ args, options: { workdir: { type: "string" }, json: { type: "boolean" } } });
  const workdir = values.workdir ?? process.env.FERRY_AGENT_WORKDIR;
  if (!workdir) {
    console.error(usage);
    return 2;
  }
  console.log(await statusCommand(workdir, Boolean(values.json)));
  return 0;
}
