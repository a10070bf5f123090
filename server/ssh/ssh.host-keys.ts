/**
 * Host key policy for SSH sites: trust on first use. The first connection to a host
 * records its key's SHA-256 fingerprint in the site's ssh settings (`ssh.knownHosts`,
 * keyed `host:port`, bastions included); every later connection must offer the same key,
 * or the deployment is refused. After a deliberate host key change an operator clears
 * the recorded fingerprint (site ssh settings) and the next connection records the new one.
 */
import type { Db } from "../db/client.js";
import type { Prisma } from "../generated/prisma/client.js";
import type { HostKeyStore } from "./ssh.session.js";

type SshJson = Record<string, unknown> & { knownHosts?: Record<string, string> };

export function siteHostKeys(db: Db, siteId: string): HostKeyStore {
  return {
    async get(hostPort) {
      const site = await db.site.findUnique({ where: { id: siteId }, select: { ssh: true } });
      return (site?.ssh as SshJson | null)?.knownHosts?.[hostPort] ?? null;
    },
    async record(hostPort, fingerprint) {
      return db.$transaction(async (tx) => {
        await tx.$queryRaw`SELECT id FROM "Site" WHERE id = ${siteId} FOR UPDATE`;
        const site = await tx.site.findUnique({ where: { id: siteId }, select: { ssh: true } });
        const ssh = (site?.ssh as SshJson | null) ?? {};
        // Another connection may have recorded it meanwhile; never overwrite a recorded key.
        const recorded = ssh.knownHosts?.[hostPort];
        if (recorded) return recorded;
        const next = { ...ssh, knownHosts: { ...ssh.knownHosts, [hostPort]: fingerprint } };
        await tx.site.update({ where: { id: siteId }, data: { ssh: next as Prisma.InputJsonValue } });
        await tx.siteEvent.create({ data: { siteId, kind: "ssh-host-key-recorded", actor: "ferry", details: { host: hostPort, fingerprint } } });
        return fingerprint;
      });
    },
  };
}
