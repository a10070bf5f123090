-- DropIndex
DROP INDEX "Artifact_kind_idx";

-- DropIndex
DROP INDEX "AuditEvent_actor_idx";

-- DropIndex
DROP INDEX "SqlScript_component_idx";

-- DropIndex
DROP INDEX "SqlScript_status_idx";

-- CreateIndex
CREATE INDEX "Artifact_kind_component_version_filename_idx" ON "Artifact"("kind", "component", "version", "filename");

-- CreateIndex
CREATE INDEX "AuditEvent_actor_seq_idx" ON "AuditEvent"("actor", "seq");

-- CreateIndex
CREATE INDEX "Release_product_createdAt_id_idx" ON "Release"("product", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Release_createdAt_id_idx" ON "Release"("createdAt", "id");

-- CreateIndex
CREATE INDEX "SqlScript_status_createdAt_id_idx" ON "SqlScript"("status", "createdAt", "id");

-- CreateIndex
CREATE INDEX "SqlScript_component_createdAt_id_idx" ON "SqlScript"("component", "createdAt", "id");

-- CreateIndex
CREATE INDEX "SqlScript_createdAt_id_idx" ON "SqlScript"("createdAt", "id");
