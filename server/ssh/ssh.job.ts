/** The `deployment.ssh` job: runs one SSH deployment (server/ssh/ssh.deploy.ts). */
import type { AppContext } from "../context.js";
import { SSH_DEPLOYMENT_JOB } from "../deployments/deployments.service.js";
import { runSshDeployment } from "./ssh.deploy.js";

export function registerSshDeploymentJob(ctx: AppContext): void {
  ctx.jobs.register<{ deploymentId: string }>(SSH_DEPLOYMENT_JOB, (payload, job) => runSshDeployment(ctx, payload.deploymentId, job), {
    // Failures end the deployment inside the handler; a second attempt only follows a
    // crashed process, and re-running apply is safe (the agent's journal recovers).
    maxAttempts: 2,
    concurrency: 4,
  });
}
