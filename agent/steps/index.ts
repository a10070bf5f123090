/** Dispatch from a step's `type` to its module. */
import type { Scope } from "../expressions.js";
import { copyStep, extractStep, templateStep } from "./files.js";
import { healthcheckStep } from "./healthcheck.js";
import { imageLoadStep } from "./image-load.js";
import { runStep } from "./run.js";
import { sqlStep } from "./sql.js";
import { StepError, type SimpleStep, type StepContext } from "./types.js";

export interface StepEnvironment {
  scope: Scope;
  bundle: { id: string; release: string };
}

export async function executeStep(step: SimpleStep, ctx: StepContext, env: StepEnvironment): Promise<void> {
  switch (step.type) {
    case "run":
      return runStep(step, ctx);
    case "extract":
      return extractStep(step, ctx);
    case "copy":
      return copyStep(step, ctx);
    case "template":
      return templateStep(step, ctx, env.scope);
    case "sql":
      return sqlStep(step, ctx, env.bundle);
    case "image-load":
      return imageLoadStep(step, ctx, env.scope);
    case "healthcheck":
      return healthcheckStep(step, ctx);
    default:
      throw new StepError("unknown_step", `unknown step type ${JSON.stringify((step as { type: unknown }).type)}`);
  }
}

/** Fields left unrendered until the step runs, because they use step-local expressions. */
export const LATE_FIELDS: Partial<Record<SimpleStep["type"], string[]>> = { "image-load": ["command"] };
