/**
 * Prisma's schema engine, compiled to WebAssembly, driven through a driver adapter.
 * The prisma CLI would download a native engine, which offline machines cannot do; this
 * runs the same engine code and writes the same `_prisma_migrations` records, so
 * `prisma migrate deploy` on a connected machine stays interchangeable with it.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import * as engineGlue from "@prisma/schema-engine-wasm/schema_engine_bg";
import type { SchemaEngine } from "@prisma/schema-engine-wasm";
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlMigrationAwareDriverAdapterFactory,
} from "@prisma/driver-adapter-utils";

let instantiated = false;

/** Instantiates the WASM module once per process (it is ~10 MB; the package's own entry needs --experimental-wasm-modules). */
function instantiateEngineWasm(): void {
  if (instantiated) return;
  const require = createRequire(import.meta.url);
  const wasmPath = require.resolve("@prisma/schema-engine-wasm").replace(/schema_engine\.js$/, "schema_engine_bg.wasm");
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const instance = new WebAssembly.Instance(module, {
    "./schema_engine_bg.js": engineGlue as unknown as WebAssembly.ModuleImports,
  });
  const glue = engineGlue as unknown as { __wbg_set_wasm(exports: WebAssembly.Exports): void };
  glue.__wbg_set_wasm(instance.exports);
  (instance.exports as { __wbindgen_start(): void }).__wbindgen_start();
  instantiated = true;
}

export async function openSchemaEngine(
  schemaPath: string,
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  log: (message: string) => void = () => {},
): Promise<SchemaEngine> {
  instantiateEngineWasm();
  const schema = readFileSync(schemaPath, "utf8");
  const Engine = (engineGlue as unknown as { SchemaEngine: typeof SchemaEngine }).SchemaEngine;
  return Engine.new({ datamodels: [[schemaPath, schema]] }, log, bindMigrationAwareSqlAdapterFactory(adapterFactory));
}
