-- AlterTable
ALTER TABLE "Deployment" ADD COLUMN     "lastContactAt" TIMESTAMP(3),
ADD COLUMN     "stalledAt" TIMESTAMP(3);

-- CreateIndex
CREATE INDEX "Deployment_status_transport_lastContactAt_idx" ON "Deployment"("status", "transport", "lastContactAt");
