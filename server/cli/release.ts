/**
 * `ferry release create|seal|diff|show`: releases from the command line, for CI pipelines
 * that compose and seal a release after uploading its artifacts.
 */
import { parseArgs } from "node:util";
import { CliError, requestOk, resolveTarget } from "./api-client.js";

const USAGE = `usage: ferry release create <product>@<version> --component name@version [--component …] [--notes TEXT] [--required]
       ferry release seal <product>@<version>
       ferry release show <product>@<version>
       ferry release diff <product>@<version> --from <version>`;

const clientOptions = { server: { type: "string" }, token: { type: "string" } } as const;

/** Splits `name@version`; versions may not contain '@', names may not be empty. */
export function splitRef(ref: string | undefined, what: string): { name: string; version: string } {
  const at = ref?.lastIndexOf("@") ?? -1;
  if (!ref || at < 1 || at === ref.length - 1) throw new CliError(`expected ${what} as name@version, got ${JSON.stringify(ref ?? "")}\n${USAGE}`);
  return { name: ref.slice(0, at), version: ref.slice(at + 1) };
}

const releasePath = (ref: { name: string; version: string }) => `/api/v1/releases/${encodeURIComponent(ref.name)}/${encodeURIComponent(ref.version)}`;

function printDiff(diff: any): void {
  console.log(`${diff.product} ${diff.from.version} → ${diff.to.version}`);
  for (const c of diff.components.added) console.log(`  + ${c.name} ${c.version}`);
  for (const c of diff.components.removed) console.log(`  - ${c.name} ${c.version}`);
  for (const c of diff.components.changed) {
    console.log(`  ~ ${c.name} ${c.from} → ${c.to}`);
    for (const a of c.artifacts.added) console.log(`      + ${a.filename} ${a.sha256.slice(0, 12)}`);
    for (const a of c.artifacts.removed) console.log(`      - ${a.filename}`);
    for (const a of c.artifacts.changed) console.log(`      ~ ${a.from.filename} → ${a.to.filename} ${a.to.sha256.slice(0, 12)}`);
  }
  for (const group of diff.sql) {
    console.log(`  sql ${group.database} (${group.dialect}):`);
    for (const s of group.scripts) console.log(`      ${s.orderVersion ?? "R"} ${s.filename} [${s.status}]${s.outOfOrder ? " OUT OF ORDER" : ""}`);
  }
}

export async function releaseCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { ...clientOptions, component: { type: "string", multiple: true }, notes: { type: "string" }, required: { type: "boolean" }, from: { type: "string" } },
  });
  const ref = splitRef(positionals[0], "the release");
  const target = resolveTarget(values);
  switch (sub) {
    case "create": {
      const components = (values.component ?? []).map((c) => splitRef(c, "--component"));
      if (!components.length) throw new CliError(`a release needs at least one --component name@version\n${USAGE}`);
      const release = await requestOk(target, "POST", "/api/v1/releases", {
        json: { product: ref.name, version: ref.version, components, notes: values.notes, required: values.required || undefined },
      });
      console.log(`created draft ${release.product} ${release.version} (${release.components.length} components)`);
      return;
    }
    case "seal": {
      const release = await requestOk(target, "POST", `${releasePath(ref)}/seal`);
      console.log(`sealed ${release.product} ${release.version} digest sha256:${release.digest}`);
      return;
    }
    case "show":
      console.log(JSON.stringify(await requestOk(target, "GET", releasePath(ref)), null, 2));
      return;
    case "diff": {
      if (!values.from) throw new CliError(`diff needs --from <version>\n${USAGE}`);
      printDiff(await requestOk(target, "GET", `${releasePath(ref)}/diff?from=${encodeURIComponent(values.from)}`));
      return;
    }
    default:
      throw new CliError(USAGE);
  }
}
