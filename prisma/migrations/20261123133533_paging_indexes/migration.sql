-- CreateIndex
CREATE INDEX "ApiToken_userId_createdAt_id_idx" ON "ApiToken"("userId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Bundle_createdAt_id_idx" ON "Bundle"("createdAt", "id");

-- CreateIndex
CREATE INDEX "Bundle_siteId_createdAt_id_idx" ON "Bundle"("siteId", "createdAt", "id");

-- CreateIndex
CREATE INDEX "Deployment_createdAt_id_idx" ON "Deployment"("createdAt", "id");

-- CreateIndex
CREATE INDEX "Deployment_siteId_createdAt_id_idx" ON "Deployment"("siteId", "createdAt", "id");
