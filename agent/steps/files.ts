/**
 * The file-writing steps. Each first calls `ctx.preserve(target)`, which journals the
 * undo and moves what was there aside, so a failure later in the apply (or recovery after
 * a crash) puts the previous content back exactly.
 *
 * - `extract` REPLACES the target folder with the archive's content (strip as tar
 *   --strip-components); targets are normally versioned folders, and replacing keeps
 *   the step idempotent.
 * - `copy` writes one artifact to a file (`to` ending in `/` means into that folder).
 * - `template` renders a config template of the component with the site's variables.
 */
import { chmod, copyFile, mkdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { renderTemplate, type Scope } from "../expressions.js";
import { writeFileAtomic } from "../fsutil.js";
import { extractTar } from "../tar.js";
import { StepError, type CopyStep, type ExtractStep, type StepContext, type TemplateStep } from "./types.js";

const absolute = (target: string, what: string): string => {
  if (!path.isAbsolute(target)) throw new StepError("invalid_target", `${what} must be an absolute path, got ${JSON.stringify(target)}`);
  return path.normalize(target);
};

const parseMode = (mode: string | undefined, fallback: number): number => (mode ? Number.parseInt(mode, 8) : fallback);

export async function extractStep(step: ExtractStep, ctx: StepContext): Promise<void> {
  const artifact = ctx.artifact(step.artifact);
  const target = absolute(step.to, "extract.to");
  await ctx.preserve(target);
  const files = await extractTar(artifact.file, target, { strip: step.strip, allowLinks: true });
  for (const file of files) ctx.recordFile(file);
  ctx.info(`extracted ${artifact.filename} into ${target}`, { files: files.length });
}

export async function copyStep(step: CopyStep, ctx: StepContext): Promise<void> {
  const artifact = ctx.artifact(step.artifact);
  const to = step.to.endsWith("/") ? path.join(step.to, artifact.filename) : step.to;
  const target = absolute(to, "copy.to");
  await ctx.preserve(target);
  await mkdir(path.dirname(target), { recursive: true });
  const temp = `${target}.ferry-tmp`;
  try {
    await copyFile(artifact.file, temp);
    await chmod(temp, parseMode(step.mode, 0o644));
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }
  ctx.recordFile(target);
}

export async function templateStep(step: TemplateStep, ctx: StepContext, scope: Scope): Promise<void> {
  if (!step.to) throw new StepError("invalid_step", `template ${step.source} has no target (to)`);
  const target = absolute(step.to, "template.to");
  const sourceFile = path.join(ctx.component.dir, step.source);
  const source = await readFile(sourceFile, "utf8").catch(() => {
    throw new StepError("template_missing", `the bundle carries no ${step.source} for ${ctx.component.name}`);
  });
  const rendered = renderTemplate(source, scope, `${ctx.component.name}/${step.source}`);
  await ctx.preserve(target);
  await writeFileAtomic(target, rendered, parseMode(step.mode, 0o644));
  await chmod(target, parseMode(step.mode, 0o644));
  ctx.recordFile(target);
}
