/**
 * `image-load`: hands an image archive to the site's container tooling. `command` is a
 * preset or a full command using `${{ image.archive }}`, `${{ image.name }}`,
 * `${{ image.tag }}` and `${{ image.ref }}` (name:tag; the name is the component, the tag
 * its version, as compose.yaml refers to them):
 * - `skopeo` (default): `skopeo copy oci-archive:<archive> <destination>`, destination
 *   `docker://<site.registry>/<name>:<tag>` when the site has a registry variable,
 *   otherwise `docker-daemon:<name>:<tag>`;
 * - `docker`: `docker load -i <archive>`;
 * - `ctr`: `ctr -n k8s.io images import <archive>`.
 */
import { renderString, type Scope } from "../expressions.js";
import { describeFailure, runCommand } from "./command.js";
import { StepError, type ImageLoadStep, type StepContext } from "./types.js";

const PRESETS: Record<string, string> = {
  skopeo: "skopeo copy oci-archive:${{ image.archive }} ${{ image.destination }}",
  docker: "docker load -i ${{ image.archive }}",
  ctr: "ctr -n k8s.io images import ${{ image.archive }}",
};

export async function imageLoadStep(step: ImageLoadStep, ctx: StepContext, scope: Scope): Promise<void> {
  const artifact = ctx.artifact(step.artifact);
  const name = ctx.component.name;
  const tag = ctx.component.version.replace(/[^A-Za-z0-9_.-]/g, "_");
  const registry = scope.site?.registry;
  const image = {
    archive: artifact.file,
    name,
    tag,
    ref: `${name}:${tag}`,
    destination: registry ? `docker://${registry}/${name}:${tag}` : `docker-daemon:${name}:${tag}`,
  };
  const template = PRESETS[step.command ?? "skopeo"] ?? step.command!;
  const command = renderString(template, { ...scope, image }, `${name} image-load command`);
  const result = await runCommand(command, {
    cwd: ctx.component.dir,
    env: {},
    signal: ctx.signal,
    output: ctx.output,
    onStart: (id) => ctx.trackProcess(id),
  });
  await ctx.trackProcess(null);
  if (result.code !== 0 || result.timedOut) throw new StepError("image_load_failed", `image load of ${artifact.filename} ${describeFailure(result)}`);
  ctx.info(`loaded ${artifact.filename} as ${image.ref}`);
}
