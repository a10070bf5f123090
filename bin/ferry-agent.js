#!/usr/bin/env node
// Runs the TypeScript site agent through tsx's loader (development and the server's own
// machine); sites run the esbuild bundle a Ferry bundle carries (agent/ferry-agent.mjs).
import { register } from "tsx/esm/api";

register();
await import("../agent/main.ts");
