/**
 * Every job type a Ferry process can run. Servers (with FERRY_EMBEDDED_WORKER) and
 * `ferry worker` processes call this once, so both run the same handlers. A domain with
 * jobs adds one line here.
 */
import type { AppContext } from "../context.js";
import { registerGcJob } from "../gc/gc.job.js";
import { registerBundleJob } from "../bundles/bundles.job.js";
import { registerSshDeploymentJob } from "../ssh/ssh.job.js";

export function registerJobHandlers(ctx: AppContext): void {
  registerGcJob(ctx);
  registerBundleJob(ctx);
  registerSshDeploymentJob(ctx);
}
