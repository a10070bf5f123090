/** `run`: a shell command with env, working folder and timeout (seconds). */
import { describeFailure, runCommand } from "./command.js";
import { StepError, type RunStep, type StepContext } from "./types.js";

export async function runStep(step: RunStep, ctx: StepContext): Promise<void> {
  const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([key, value]) => [key, String(value)]));
  const result = await runCommand(step.command, {
    cwd: step.workdir ?? ctx.component.dir,
    env,
    timeout: step.timeout,
    signal: ctx.signal,
    output: ctx.output,
    onStart: (id) => ctx.trackProcess(id),
  });
  await ctx.trackProcess(null);
  if (result.code !== 0 || result.timedOut) throw new StepError(result.timedOut ? "step_timeout" : "command_failed", `command ${describeFailure(result, step.timeout)}`);
}
