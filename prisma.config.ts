// Prisma CLI configuration (used by `prisma generate`). Migrations are applied by
// server/db/migrate.ts through Prisma's WebAssembly schema engine; see README.
import { defineConfig } from "prisma/config";

export default defineConfig({
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
});
