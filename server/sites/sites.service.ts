/**
 * Sites: where a customer runs the product. Holds the rules for creating and editing
 * sites, the agent token, recording what a site runs, and the server-internal accessors
 * (variables with secrets, SSH credentials) that bundles and deployments use.
 */
import type { Db } from "../db/client.js";
import type { Site } from "../generated/prisma/client.js";
import { badRequest, conflict, notFound } from "../errors.js";
import { SITE_TOKEN_PREFIX, hashOpaqueToken, newOpaqueToken } from "../auth/opaque-token.js";
import { open, seal } from "../secrets/envelope.js";
import type { CreateSiteInput, RecordInstalledInput, UpdateSiteInput } from "./sites.schema.js";
import { assertUsablePrivateKey, openVariables, sealVariables } from "./sites.secrets.js";

/** A site as the API shows it: the row, its customer's name and the names (only) of its secret variables. */
export interface SiteView {
  row: Site;
  customer: string;
  secretVariableNames: string[];
}

export interface SshCredentials {
  host: string;
  port: number;
  user: string;
  hosts: string[];
  bastion: { host: string; port: number; user: string } | null;
  privateKey: string;
}

type StoredSsh = Omit<SshCredentials, "privateKey">;

export class SitesService {
  constructor(
    private readonly db: Db,
    private readonly secretKey: Buffer,
  ) {}

  /** Creates a site; for `agent` sites also returns the agent token, which is never shown again. */
  async create(customerName: string, input: CreateSiteInput, actor: string): Promise<{ view: SiteView; agentToken: string | null }> {
    const customer = await this.db.customer.findUnique({ where: { name: customerName } });
    if (!customer) throw notFound("customer", customerName);
    assertNoOverlap(input.variables, input.secretVariables);
    if (input.connectivity === "ssh" && !input.ssh) throw badRequest("ssh_required", "an ssh site needs ssh settings (host, user, privateKey)");
    if (input.connectivity !== "ssh" && input.ssh) {
      throw badRequest("ssh_not_applicable", `ssh settings apply only to sites with connectivity "ssh", not "${input.connectivity}"`);
    }
    if (input.ssh) assertUsablePrivateKey(input.ssh.privateKey);
    const existing = await this.db.site.findUnique({ where: { customerId_name: { customerId: customer.id, name: input.name } }, select: { id: true } });
    if (existing) throw conflict("already_exists", `customer ${customerName} already has a site ${input.name}`, { customer: customerName, name: input.name });

    const agentToken = input.connectivity === "agent" ? newOpaqueToken(SITE_TOKEN_PREFIX) : null;
    const ssh: StoredSsh | null = input.ssh
      ? { host: input.ssh.host, port: input.ssh.port, user: input.ssh.user, hosts: input.ssh.hosts ?? [], bastion: input.ssh.bastion ?? null }
      : null;
    const row = await this.db.site.create({
      data: {
        customerId: customer.id,
        name: input.name,
        environment: input.environment,
        platform: input.platform,
        connectivity: input.connectivity,
        variables: input.variables,
        secretVariables: sealVariables(this.secretKey, input.secretVariables),
        ...(ssh ? { ssh, sshPrivateKey: seal(this.secretKey, input.ssh!.privateKey) } : {}),
        agentTokenHash: agentToken ? hashOpaqueToken(agentToken) : null,
        history: { create: { kind: "created", actor, details: { environment: input.environment, platform: input.platform, connectivity: input.connectivity } } },
      },
    });
    return { view: { row, customer: customer.name, secretVariableNames: Object.keys(input.secretVariables).sort() }, agentToken };
  }

  async list(page: { customer?: string; cursor?: string; limit: number }): Promise<{ items: SiteView[]; nextCursor: string | null }> {
    if (page.customer && !(await this.db.customer.findUnique({ where: { name: page.customer }, select: { id: true } }))) {
      throw notFound("customer", page.customer);
    }
    const rows = await this.db.site.findMany({
      where: page.customer ? { customer: { name: page.customer } } : {},
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
      take: page.limit + 1,
      ...(page.cursor ? { cursor: { id: page.cursor }, skip: 1 } : {}),
      include: { customer: { select: { name: true } } },
    });
    const items = rows.slice(0, page.limit);
    return { items: items.map((row) => this.view(row, row.customer.name)), nextCursor: rows.length > page.limit ? items[items.length - 1]!.id : null };
  }

  /** A site with its customer; 404 when unknown. */
  async getSite(id: string): Promise<SiteView> {
    const row = await this.db.site.findUnique({ where: { id }, include: { customer: { select: { name: true } } } });
    if (!row) throw notFound("site", id);
    return this.view(row, row.customer.name);
  }

  /** The site's history, newest first. */
  history(id: string, limit = 100) {
    return this.db.siteEvent.findMany({ where: { siteId: id }, orderBy: [{ at: "desc" }, { id: "desc" }], take: limit });
  }

  /**
   * Edits environment and variables. Variables merge: a value sets or replaces a key,
   * `null` deletes it. The write is conditional on the row not having changed since it
   * was read, so two concurrent edits cannot silently drop each other's keys.
   */
  async update(id: string, changes: UpdateSiteInput, actor: string): Promise<SiteView> {
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.db.site.findUnique({ where: { id } });
      if (!current) throw notFound("site", id);
      const variables = applyChanges(current.variables as Record<string, string>, changes.variables);
      const secrets = applyChanges(openVariables(this.secretKey, current.secretVariables), changes.secretVariables);
      assertNoOverlap(variables, secrets);
      const { count } = await this.db.site.updateMany({
        where: { id, updatedAt: current.updatedAt },
        data: {
          updatedAt: new Date(),
          ...(changes.environment ? { environment: changes.environment } : {}),
          ...(changes.variables ? { variables } : {}),
          ...(changes.secretVariables ? { secretVariables: sealVariables(this.secretKey, secrets) } : {}),
        },
      });
      if (count !== 1) continue;
      // Names only: the history is readable by every role.
      await this.db.siteEvent.create({
        data: {
          siteId: id,
          kind: "updated",
          actor,
          details: {
            ...(changes.environment ? { environment: changes.environment } : {}),
            ...(changes.variables ? { variables: Object.keys(changes.variables).sort() } : {}),
            ...(changes.secretVariables ? { secretVariables: Object.keys(changes.secretVariables).sort() } : {}),
          },
        },
      });
      return this.getSite(id);
    }
    throw conflict("concurrent_update", "the site was changed by someone else at the same time; try again");
  }

  /** Records which release a site already runs (a manual install, an import, a finished deployment). */
  async recordInstalled(id: string, input: RecordInstalledInput & { deploymentId?: string }, actor: string, kind = "installed-recorded"): Promise<SiteView> {
    const site = await this.getSite(id);
    const release = await this.db.release.findUnique({
      where: { product_version: { product: input.product, version: input.version } },
      include: { components: { orderBy: { position: "asc" } } },
    });
    if (!release) throw notFound("release", `${input.product}/${input.version}`);
    const components = input.components ?? release.components.map((c) => ({ name: c.name, version: c.version }));
    await this.db.$transaction([
      this.db.site.update({
        where: { id },
        data: { installedProduct: release.product, installedVersion: release.version, installedComponents: components },
      }),
      this.db.siteEvent.create({
        data: {
          siteId: id,
          kind,
          product: release.product,
          version: release.version,
          deploymentId: input.deploymentId ?? null,
          actor,
          details: { components, previous: site.row.installedVersion ? { product: site.row.installedProduct, version: site.row.installedVersion } : null },
        },
      }),
    ]);
    return this.getSite(id);
  }

  /** Issues a new agent token (the old one stops working at once); shown once. */
  async rotateAgentToken(id: string, actor: string): Promise<string> {
    const site = await this.getSite(id);
    if (site.row.connectivity !== "agent") {
      throw conflict("not_agent_site", `site ${id} has connectivity "${site.row.connectivity}"; only agent sites have an agent token`);
    }
    const token = newOpaqueToken(SITE_TOKEN_PREFIX);
    await this.db.$transaction([
      this.db.site.update({ where: { id }, data: { agentTokenHash: hashOpaqueToken(token) } }),
      this.db.siteEvent.create({ data: { siteId: id, kind: "agent-token-rotated", actor } }),
    ]);
    return token;
  }

  /** Server-internal only: plain and decrypted secret variables, for rendering configuration. */
  async siteVariables(id: string): Promise<{ plain: Record<string, string>; secret: Record<string, string> }> {
    const { row } = await this.getSite(id);
    return { plain: { ...(row.variables as Record<string, string>) }, secret: openVariables(this.secretKey, row.secretVariables) };
  }

  /** Server-internal only: SSH settings with the decrypted key, or null for non-ssh sites. */
  async sshCredentials(id: string): Promise<SshCredentials | null> {
    const { row } = await this.getSite(id);
    if (row.connectivity !== "ssh" || !row.ssh || !row.sshPrivateKey) return null;
    return { ...(row.ssh as unknown as StoredSsh), privateKey: open(this.secretKey, row.sshPrivateKey) };
  }

  private view(row: Site, customer: string): SiteView {
    return { row, customer, secretVariableNames: Object.keys(openVariables(this.secretKey, row.secretVariables)).sort() };
  }
}

function applyChanges(base: Record<string, string>, changes: Record<string, string | null> | undefined): Record<string, string> {
  const result = { ...base };
  for (const [key, value] of Object.entries(changes ?? {})) {
    if (value === null) delete result[key];
    else result[key] = value;
  }
  return result;
}

function assertNoOverlap(plain: Record<string, string>, secret: Record<string, string>): void {
  const both = Object.keys(plain).filter((key) => key in secret);
  if (both.length) throw badRequest("variable_conflict", `variables cannot be both plain and secret: ${both.join(", ")}`, { names: both });
}
