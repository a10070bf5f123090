import type { BuildOptions } from "esbuild";

export function agentBuildOptions(repoRoot: string): BuildOptions;
export const PREBUILT_AGENT_FILE: string;
