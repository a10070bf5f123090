/** The `deployment.ssh` job: runs one SSH deployment (server/ssh/ssh.deploy.ts). */
import type { AppContext } from "../context.js";
import { SSH_DEPLOYMENT_JOB } from "../deployments/deployments.service.js";
import { runSshDeployment } from "./ssh.deploy.js";

const MAX_ATTEMPTS = 3;

export function registerSshDeploymentJob(ctx: AppContext): void {
  ctx.jobs.register<{ deploymentId: string }>(SSH_DEPLOYMENT_JOB, (payload, job) => runSshDeployment(ctx, payload.deploymentId, job), {
    // Failures end the deployment inside the handler; another attempt only follows a crash of
    // the process running it, and re-attaching is safe: it waits for the remote apply still
    // running, or imports its report, and only applies when there is neither (the agent's
    // journal rolls back a half-done apply).
    maxAttempts: MAX_ATTEMPTS,
    concurrency: 4,
    // Every attempt's process died: end the deployment rather than leave it `running` forever.
    onAbandoned: async ({ deploymentId }, reason) => {
      await ctx.deployments.progress.finish(
        deploymentId,
        "failed",
        `the Ferry process running this deployment stopped ${MAX_ATTEMPTS} times without finishing it (${reason}); the site may still have applied the bundle: check \`ferry-agent status\` there`,
        "ferry",
      );
    },
  });
}
