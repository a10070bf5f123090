/**
 * `ferry-agent status --workdir DIR [--json]`: the installed release, inventory, an apply in
 * progress (`busy`: the live agent process holding the work directory) and any interrupted apply.
 */
import { lockHolder, readJournal } from "./journal.js";
import { WorkDir } from "./state.js";

export async function statusCommand(workdirPath: string, json: boolean): Promise<string> {
  const workdir = new WorkDir(workdirPath);
  const state = await workdir.readState();
  const journal = await readJournal(workdir);
  const holder = await lockHolder(workdir);
  const busy = holder ? { pid: holder.pid } : null;
  const interrupted = journal ? { applyId: journal.applyId, bundleId: journal.bundleId, release: journal.release, startedAt: journal.startedAt, steps: journal.steps.length } : null;
  if (json) return JSON.stringify({ site: state.site, release: state.release, components: state.components, busy, interrupted, history: state.history }, null, 2);
  const lines: string[] = [];
  lines.push(state.release ? `release: ${state.release.product} ${state.release.version} (digest ${state.release.digest.slice(0, 12)}…, applied ${state.release.appliedAt})` : "release: nothing installed");
  if (state.site) lines.push(`site: ${state.site.customer}/${state.site.name} (${state.site.id}, ${state.site.platform})`);
  for (const [name, component] of Object.entries(state.components).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(`  ${name} ${component.version}: ${component.artifacts.length} artifact(s), ${Object.keys(component.files).length} file(s)`);
  }
  if (busy) lines.push(`BUSY: agent process ${busy.pid} is applying in this work directory`);
  if (interrupted) lines.push(`INTERRUPTED apply ${interrupted.applyId} (${interrupted.release.product} ${interrupted.release.version}, ${interrupted.steps} step(s) started): the next apply rolls it back first`);
  return lines.join("\n");
}
