/** Argument parsing for `run` (main.ts dispatches); the agent itself is in run.ts. */
import { parseArgs } from "node:util";
import { OnlineAgent } from "./run.js";

export async function runCommand(args: string[], usage: string): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: "string" },
      token: { type: "string" },
      workdir: { type: "string" },
      vars: { type: "string" },
      key: { type: "string" },
      once: { type: "boolean" },
      wait: { type: "string" },
    },
  });
  const server = values.server ?? process.env.FERRY_SERVER;
  // The token may come from the environment so it stays out of `ps` output.
  const token = values.token ?? process.env.FERRY_AGENT_TOKEN;
  const workdir = values.workdir ?? process.env.FERRY_AGENT_WORKDIR;
  const wait = values.wait === undefined ? 30 : Number(values.wait);
  if (!server || !token || !workdir || !Number.isFinite(wait) || wait < 0 || wait > 120) {
    console.error(usage);
    return 2;
  }
  const controller = new AbortController();
  const stop = () => controller.abort(new Error("the agent was asked to stop"));
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return new OnlineAgent({ server, token, workdir, varsFile: values.vars, keyFile: values.key, once: values.once, waitSeconds: wait, signal: controller.signal }).run();
}
