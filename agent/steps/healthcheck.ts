/**
 * `healthcheck`: an HTTP GET expecting a status (2xx when none is given), a TCP connect,
 * or a command exiting 0; tried `retries` times (at least once), `interval` seconds apart,
 * each try limited to `timeout` seconds.
 */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { describeFailure, runCommand } from "./command.js";
import { StepError, type HealthcheckStep, type StepContext } from "./types.js";

export async function healthcheckStep(step: HealthcheckStep, ctx: StepContext): Promise<void> {
  const attempts = Math.max(1, step.retries ?? 10);
  const interval = step.interval ?? 5;
  const timeout = step.timeout ?? 5;
  let last = "not tried";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    last = await probe(step, timeout, ctx);
    if (last === "ok") {
      ctx.info(`healthy after ${attempt} attempt(s)`);
      return;
    }
    ctx.info(`attempt ${attempt}/${attempts}: ${last}`);
    if (attempt < attempts) await sleep(interval * 1000, undefined, { signal: ctx.signal });
  }
  throw new StepError("unhealthy", `${describeProbe(step)} still failing after ${attempts} attempt(s): ${last}`);
}

function describeProbe(step: HealthcheckStep): string {
  if (step.http) return `GET ${step.http.url}`;
  if (step.tcp) return `tcp ${step.tcp.host ?? "127.0.0.1"}:${step.tcp.port}`;
  return `command ${step.command}`;
}

async function probe(step: HealthcheckStep, timeout: number, ctx: StepContext): Promise<string> {
  if (step.http) {
    try {
      const response = await fetch(step.http.url, { signal: AbortSignal.any([AbortSignal.timeout(timeout * 1000), ctx.signal]), redirect: "manual" });
      await response.body?.cancel();
      const expected = step.http.expectStatus;
      const good = expected === undefined ? response.status >= 200 && response.status < 300 : response.status === expected;
      return good ? "ok" : `status ${response.status}${expected ? `, expected ${expected}` : ""}`;
    } catch (error) {
      return (error as Error).cause ? String((error as Error).cause) : (error as Error).message;
    }
  }
  if (step.tcp) {
    const port = Number(step.tcp.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new StepError("invalid_step", `healthcheck tcp port ${JSON.stringify(step.tcp.port)} is not a port number`);
    return tcpProbe(step.tcp.host ?? "127.0.0.1", port, timeout);
  }
  if (step.command) {
    const result = await runCommand(step.command, { cwd: ctx.component.dir, env: {}, timeout, signal: ctx.signal, output: ctx.output });
    return result.code === 0 && !result.timedOut ? "ok" : describeFailure(result, timeout);
  }
  throw new StepError("invalid_step", "a healthcheck needs one of http, tcp or command");
}

function tcpProbe(host: string, port: number, timeout: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeout * 1000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve("ok");
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(`no connection within ${timeout}s`);
    });
    socket.once("error", (error) => resolve(error.message));
  });
}
