#!/usr/bin/env node
// `ferry`: runs the compiled CLI (dist/ferry.js, from `npm run build`) when it is at least as
// new as every source file under server/ and agent/ (dist/ also holds the bundled agent),
// otherwise the TypeScript sources through tsx's
// loader. A checkout never runs stale code; an image with dist/ only needs neither the
// sources nor tsx. The compiled server uses ~35 MiB less memory (no loader thread).
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = path.join(root, "dist", "ferry.js");
const sources = path.join(root, "server");
const sourceDirs = [sources, path.join(root, "agent")];

function builtIsCurrent() {
  if (!existsSync(built)) return false;
  // An image with dist/ holds no server sources.
  if (!existsSync(path.join(sources, "cli", "main.ts"))) return true;
  const builtAt = statSync(built).mtimeMs;
  for (const dir of sourceDirs) {
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".ts") && statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs > builtAt) return false;
    }
  }
  return true;
}

if (builtIsCurrent()) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../server/cli/main.ts");
}
