/**
 * An SSH deployment, run as a job: wait for the bundle, connect with the site's key
 * (through its bastion if any), copy the agent, the signing key and the bundle into the
 * site's Ferry directory (the bundle only when a file with its sha256 is not already
 * there), run `ferry-agent apply` remotely with the site's variables, stream its output
 * into the deployment, bring the report back and import it.
 *
 * Remote layout, under the plain site variable FERRY_SSH_DIR (default `ferry`, relative
 * to the SSH user's home):  agent/  bundles/<sha256>.tar  reports/  work/ (the agent's
 * --workdir). FERRY_NODE names the node binary (default `node`).
 *
 * A second attempt follows a crash of the process running the first (the job's lease
 * expired). The remote apply outlives the lost connection and runs to its end (ferry-agent
 * ignores the broken output pipe), so the attempt first waits while an agent process holds
 * the site's work directory, then imports the report the earlier apply left
 * (reports/<deployment>.report.json) if there is one; only without a report does it apply,
 * and the agent's journal rolls back whatever a killed apply had half done. The apply runs
 * to its end once, and the deployment ends with what the site really did.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import type { AppContext } from "../context.js";
import type { JobContext } from "../jobs/index.js";
import type { Deployment } from "../generated/prisma/client.js";
import { buildAgentScript } from "../bundles/bundles.agent.js";
import { importReport } from "../agent-api/reports.service.js";
import { ApplyReport } from "../agent-api/reports.schema.js";
import { isActive, type FinalStatus } from "../deployments/deployments.progress.js";
import { siteHostKeys } from "./ssh.host-keys.js";
import { eventsFromLine, ProgressWriter } from "./ssh.output.js";
import { SshConnectionLostError, SshSession, shellQuote } from "./ssh.session.js";

export type SshDeployContext = Pick<AppContext, "db" | "sites" | "blobs" | "secrets" | "deployments" | "logger">;

const BUNDLE_POLL_MS = 500;
const CANCEL_POLL_MS = 1_000;
const BUSY_POLL_MS = 1_000;
const MAX_REPORT_BYTES = 64 * 1024 * 1024;

class DeploymentEnded extends Error {}

export async function runSshDeployment(ctx: SshDeployContext, deploymentId: string, job: Pick<JobContext, "signal" | "heartbeat" | "jobId">): Promise<void> {
  const { progress } = ctx.deployments;
  let deployment = await ctx.db.deployment.findUnique({ where: { id: deploymentId } });
  if (!deployment || !isActive(deployment.status)) return;
  const out = new ProgressWriter(progress, deploymentId);
  const fail = async (status: FinalStatus, message: string) => {
    await out.flush().catch(() => undefined);
    await progress.finish(deploymentId, status, message, deployment!.createdBy);
  };
  let session: SshSession | null = null;
  try {
    const bundle = await waitForBundle(ctx, deployment, job);
    await progress.markRunning(deploymentId, `ssh:${job.jobId}`);
    deployment = (await ctx.db.deployment.findUnique({ where: { id: deploymentId } }))!;
    if (!isActive(deployment.status)) return;

    const creds = await ctx.sites.sshCredentials(deployment.siteId);
    if (!creds) return await fail("failed", "the site has no ssh settings (host, user, private key)");
    const variables = await ctx.sites.siteVariables(deployment.siteId);
    const dir = variables.plain.FERRY_SSH_DIR || "ferry";
    const node = variables.plain.FERRY_NODE || "node";
    out.line("agent", `connecting to ${creds.user}@${creds.host}:${creds.port}${creds.bastion ? ` via ${creds.bastion.user}@${creds.bastion.host}:${creds.bastion.port}` : ""}`);
    session = await SshSession.open(creds, { hostKeys: siteHostKeys(ctx.db, deployment.siteId) });
    const q = (relative: string) => shellQuote(`${dir}/${relative}`);
    const mkdir = await session.run(`mkdir -p ${q("agent")} ${q("bundles")} ${q("reports")} ${q("work")} && chmod 700 ${shellQuote(dir)}`);
    if (mkdir.code !== 0) return await fail("failed", `could not create ${dir} on the site: ${mkdir.stderr || `exit ${mkdir.code}`}`);

    const agent = await buildAgentScript();
    if (!agent) return await fail("failed", "this Ferry installation has no agent sources to copy");
    const agentSha = createHash("sha256").update(agent).digest("hex");
    const agentPath = `agent/ferry-agent-${agentSha.slice(0, 16)}.mjs`;
    await session.uploadIfChanged(async () => Readable.from([agent]), `${dir}/${agentPath}`, agentSha, 0o700);
    const varsPath = `reports/${deploymentId}.vars.json`;
    const reportPath = `reports/${deploymentId}.report.json`;
    const importReportFile = async (text: Buffer) => {
      const report = ApplyReport.safeParse(JSON.parse(text.toString("utf8")));
      if (!report.success) return await fail("failed", `the agent's report is unreadable: ${report.error.issues[0]?.message}`);
      try {
        await importReport(ctx, deployment!.siteId, report.data, deployment!.createdBy, deploymentId);
      } catch (error) {
        return await fail("failed", `report rejected: ${(error as Error).message}`);
      }
      const result = report.data.result;
      const status: FinalStatus = result === "succeeded" ? "succeeded" : result === "rolled_back" ? "rolled_back" : "failed";
      const reason = report.data.error ? `${report.data.error.code}: ${report.data.error.message}` : `the agent reported ${result}`;
      await progress.finish(deploymentId, status, status === "succeeded" ? null : reason, deployment!.createdBy);
    };

    // An earlier attempt's apply may still run, or have ended: wait for it, then take its result.
    await waitWhileBusy(ctx, session, `cd ${shellQuote(dir)} && exec ${shellQuote(node)} ${shellQuote(agentPath)} status --workdir work --json`, out, deploymentId, job);
    const earlier = await session.readFile(`${dir}/${reportPath}`, MAX_REPORT_BYTES);
    if (earlier) {
      out.line("agent", "an earlier attempt of this deployment ran the apply to its end; importing its report instead of applying again");
      await session.run(`rm -f -- ${q(varsPath)}`);
      await out.flush();
      return await importReportFile(earlier);
    }

    await session.upload(Readable.from([Buffer.from(ctx.secrets.signingPublicKeyPem)]), `${dir}/agent/signing-key.pem`, 0o644);
    const bundlePath = `bundles/${bundle.sha256}.tar`;
    const uploaded = await session.uploadIfChanged(() => ctx.blobs.open(bundle.sha256), `${dir}/${bundlePath}`, bundle.sha256);
    out.line("agent", uploaded ? `copied bundle ${bundle.id} (${bundle.size} bytes)` : `bundle ${bundle.id} already on the site (sha256 ${bundle.sha256}), not copied again`);
    const varsFile = { vars: { ...variables.plain, ...variables.secret }, components: {}, site: {} };
    await session.upload(Readable.from([Buffer.from(JSON.stringify(varsFile))]), `${dir}/${varsPath}`, 0o600);

    const cancelled = watchCancel(ctx, deploymentId);
    const command = `cd ${shellQuote(dir)} && exec ${shellQuote(node)} ${shellQuote(agentPath)} apply ${shellQuote(bundlePath)} --workdir work --vars ${shellQuote(varsPath)} --key agent/signing-key.pem --report ${shellQuote(reportPath)}`;
    out.line("agent", `running: ${command}`);
    const exit = await session
      .exec(command, { onLine: (stream, line) => out.add(eventsFromLine(stream, line)), signal: cancelled.signal })
      .finally(() => cancelled.stop());
    await session.run(`rm -f -- ${q(varsPath)}`);
    await out.flush();
    if (cancelled.signal.aborted) return;

    const text = await session.readFile(`${dir}/${reportPath}`, MAX_REPORT_BYTES);
    if (!text) return await fail("failed", `the agent exited with ${exit.code ?? exit.signal} and wrote no report`);
    await importReportFile(text);
  } catch (error) {
    if (error instanceof DeploymentEnded) return;
    if (job.signal.aborted && !(error instanceof SshConnectionLostError)) throw error;
    const message = error instanceof SshConnectionLostError ? error.message : `ssh deployment failed: ${(error as Error).message}`;
    ctx.logger.warn({ err: error, deployment: deploymentId }, "ssh deployment failed");
    await fail("failed", message);
  } finally {
    session?.close();
  }
}

/** The deployment's bundle once ready; a failed build fails the deployment. */
async function waitForBundle(ctx: SshDeployContext, deployment: Deployment, job: Pick<JobContext, "signal" | "heartbeat">) {
  for (;;) {
    const bundle = deployment.bundleId ? await ctx.db.bundle.findUnique({ where: { id: deployment.bundleId } }) : null;
    if (!bundle || bundle.status === "failed" || bundle.status === "expired") {
      await ctx.deployments.progress.finish(deployment.id, "failed", `bundle ${deployment.bundleId} ${bundle ? `${bundle.status}: ${bundle.error ?? ""}` : "is gone"}`.trim(), deployment.createdBy);
      throw new DeploymentEnded();
    }
    if (bundle.status === "ready" && bundle.sha256 && bundle.size !== null) return { id: bundle.id, sha256: bundle.sha256, size: bundle.size };
    const current = await ctx.db.deployment.findUnique({ where: { id: deployment.id }, select: { status: true } });
    if (!current || !isActive(current.status)) throw new DeploymentEnded();
    if (job.signal.aborted) throw job.signal.reason ?? new Error("aborted");
    await new Promise((resolve) => setTimeout(resolve, BUNDLE_POLL_MS));
    await job.heartbeat();
  }
}

/**
 * Waits while a live agent process holds the site's work directory (`ferry-agent status`
 * reports it as `busy`), renewing the job's lease; stops when the deployment is cancelled.
 */
async function waitWhileBusy(ctx: SshDeployContext, session: SshSession, statusCommand: string, out: ProgressWriter, deploymentId: string, job: Pick<JobContext, "signal" | "heartbeat">): Promise<void> {
  for (let waited = false; ; waited = true) {
    const status = await session.run(statusCommand);
    if (status.code !== 0) throw new Error(`ferry-agent status failed on the site: ${status.stderr || `exit ${status.code}`}`);
    const busy = (JSON.parse(status.stdout) as { busy?: { pid: number } | null }).busy;
    if (!busy) return;
    if (!waited) out.line("agent", `agent process ${busy.pid} is still applying in the site's work directory (an earlier attempt of this deployment, or an apply started by hand); waiting for it to end`);
    const current = await ctx.db.deployment.findUnique({ where: { id: deploymentId }, select: { status: true } });
    if (!current || !isActive(current.status)) throw new DeploymentEnded();
    if (job.signal.aborted) throw job.signal.reason ?? new Error("aborted");
    await new Promise((resolve) => setTimeout(resolve, BUSY_POLL_MS));
    await job.heartbeat();
  }
}

/** Aborts when the deployment is cancelled (by any server process). */
function watchCancel(ctx: SshDeployContext, deploymentId: string) {
  const controller = new AbortController();
  const timer = setInterval(() => {
    ctx.db.deployment
      .findUnique({ where: { id: deploymentId }, select: { status: true } })
      .then((row) => {
        if (row?.status === "cancelled") controller.abort();
      })
      .catch(() => undefined);
  }, CANCEL_POLL_MS);
  return { signal: controller.signal, stop: () => clearInterval(timer) };
}
