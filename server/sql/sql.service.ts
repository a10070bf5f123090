/**
 * SQL scripts: lint at upload, record the script beside its artifact, and the DBA review
 * (four eyes: a `dba` other than the uploader; approval pins the reviewed sha256).
 */
import type { Artifact, Prisma, PrismaClient, SqlScript } from "../generated/prisma/client.js";
import { actorName, type Actor } from "../auth/actor.js";
import { badRequest, conflict, forbidden, notFound } from "../errors.js";
import type { Logger } from "../logger.js";
import type { BlobStore } from "../storage/blob-store.js";
import type { EventSink } from "../webhooks/events.js";
import { assertScriptsApproved, type ComponentVersion } from "./sql.approval.js";
import { lintScript } from "./sql.lint.js";
import { SqlRepo, type ScriptDetail, type ScriptListFilter, type ScriptWithArtifact } from "./sql.repo.js";
import type { Finding, SqlDialect, SqlUploadMeta } from "./sql.types.js";

/** Scripts above this size are stored but not linted (and not inlined in the detail view). */
export const LINT_MAX_BYTES = 5 * 1024 * 1024;

export type ReviewDecision = "approve" | "reject";

export class SqlService {
  readonly repo: SqlRepo;

  constructor(
    private readonly db: PrismaClient,
    private readonly blobs: BlobStore,
    private readonly events: EventSink,
    private readonly logger?: Logger,
  ) {
    this.repo = new SqlRepo(db);
  }

  /** Lints a stored blob. Never throws for bad SQL: problems are findings. */
  async lint(sha256: string, dialect: SqlDialect): Promise<Finding[]> {
    const content = await this.readText(sha256, LINT_MAX_BYTES);
    if (content.text === null) {
      return [{ rule: "too_large_to_lint", severity: "warning", statement: null, line: null, message: `scripts over ${LINT_MAX_BYTES} bytes are not linted; review this one by hand` }];
    }
    const findings = lintScript(content.text, dialect);
    if (!content.validUtf8) {
      findings.unshift({ rule: "invalid_encoding", severity: "error", statement: null, line: null, message: "the script is not valid UTF-8" });
    }
    return findings;
  }

  /**
   * Records the script of a just-created sql artifact, inside the artifact's transaction.
   * An order version belongs to one script per database, dialect and type: the same file
   * uploaded again with a later component version continues that script's lineage; any
   * other script claiming it is rejected with 409 `order_version_taken`.
   */
  async createForArtifact(tx: Prisma.TransactionClient, artifact: Artifact, meta: SqlUploadMeta, findings: Finding[], uploadedBy: string): Promise<SqlScript> {
    const existing = await tx.sqlScript.findUnique({ where: { artifactId: artifact.id } });
    if (existing) return existing;
    const allFindings = [...findings];
    if (meta.type !== "repeatable") {
      await this.repo.lockDatabaseOrder(tx, meta.database);
      const claims = await this.repo.sameOrder(tx, { database: meta.database, dialect: meta.dialect, type: meta.type, orderKey: meta.orderKey });
      const taken = claims.find((c) => c.component !== artifact.component || c.artifact.filename !== artifact.filename);
      if (taken) {
        throw conflict(
          "order_version_taken",
          `${meta.type} order version ${meta.orderVersion} of ${meta.dialect} database "${meta.database}" is already used by ${describe(taken)}`,
          { database: meta.database, dialect: meta.dialect, type: meta.type, orderVersion: meta.orderVersion, takenBy: { id: taken.id, component: taken.artifact.component, version: taken.artifact.version, filename: taken.artifact.filename } },
        );
      }
      const changed = claims.find((c) => c.artifact.sha256 !== artifact.sha256);
      if (changed) {
        allFindings.unshift({
          rule: "changed_after_release",
          severity: "warning",
          statement: null,
          line: null,
          message: `differs from the copy in ${changed.artifact.component} ${changed.artifact.version}; sites that already ran version ${meta.orderVersion} will not run it again`,
        });
      }
    }
    return tx.sqlScript.create({
      data: {
        artifactId: artifact.id,
        component: artifact.component,
        database: meta.database,
        dialect: meta.dialect,
        type: meta.type,
        orderVersion: meta.orderVersion,
        orderKey: meta.orderKey,
        description: meta.description,
        findings: allFindings as unknown as Prisma.InputJsonValue,
        uploadedBy,
      },
    });
  }

  /** Announces a committed upload (webhook `sql.submitted`). */
  async afterCommit(script: SqlScript): Promise<void> {
    const full = await this.repo.find(script.id);
    if (full) await this.emit("sql.submitted", full, {});
  }

  list(filter: ScriptListFilter) {
    return this.repo.list(filter);
  }

  async get(id: string): Promise<ScriptDetail> {
    const script = await this.repo.find(id);
    if (!script) throw notFound("sql script", id);
    return script;
  }

  /** The script with its content (null when too large to inline) and its earlier versions. */
  async detail(id: string) {
    const script = await this.get(id);
    const [content, lineage] = await Promise.all([this.readText(script.artifact.sha256, LINT_MAX_BYTES), this.repo.lineage(script)]);
    const previous = lineage.filter((v) => v.createdAt <= script.createdAt);
    return { script, content: { text: content.text, truncated: content.text === null }, previous };
  }

  /**
   * Records a DBA decision. Any number of decisions may follow one another (an approved
   * script can later be rejected, and the reverse); the latest one sets the status and
   * every one stays in the history.
   */
  async review(id: string, actor: Actor, decision: ReviewDecision, comment: string | undefined): Promise<ScriptDetail> {
    const reviewer = actorName(actor);
    const trimmed = comment?.trim() || null;
    if (decision === "reject" && !trimmed) throw badRequest("comment_required", "rejecting a script needs a comment saying why");
    const updated = await this.db.$transaction(async (tx) => {
      const script = await this.repo.find(id, tx);
      if (!script) throw notFound("sql script", id);
      if (script.uploadedBy === reviewer) {
        throw forbidden("four_eyes", "a script must be reviewed by someone other than its uploader");
      }
      const sha256 = script.artifact.sha256;
      await tx.sqlReview.create({ data: { scriptId: id, reviewer, decision, comment: trimmed, sha256 } });
      await tx.sqlScript.update({
        where: { id },
        data: decision === "approve" ? { status: "approved", approvedSha256: sha256 } : { status: "rejected", approvedSha256: null },
      });
      return (await this.repo.find(id, tx))!;
    });
    await this.emit(decision === "approve" ? "sql.approved" : "sql.rejected", updated, { reviewer, comment: trimmed });
    return updated;
  }

  /** 409 `unapproved_sql` unless every script of these component versions is approved as stored. */
  assertApproved(componentVersions: ComponentVersion[]): Promise<void> {
    return assertScriptsApproved(this.db, componentVersions);
  }

  private async emit(event: "sql.submitted" | "sql.approved" | "sql.rejected", script: ScriptWithArtifact, extra: Record<string, unknown>): Promise<void> {
    const payload = {
      id: script.id,
      component: script.artifact.component,
      version: script.artifact.version,
      filename: script.artifact.filename,
      sha256: script.artifact.sha256,
      database: script.database,
      dialect: script.dialect,
      type: script.type,
      orderVersion: script.orderVersion || null,
      status: script.status,
      uploadedBy: script.uploadedBy,
      ...extra,
    };
    // The change is committed; a failure to queue its webhook must not turn it into an error.
    await this.events.emit(event, payload).catch((error: unknown) => this.logger?.error({ err: error, event, scriptId: script.id }, "could not emit event"));
  }

  private async readText(sha256: string, maxBytes: number): Promise<{ text: string | null; validUtf8: boolean }> {
    const info = await this.blobs.has(sha256);
    if (!info) throw notFound("blob", sha256);
    if (info.size > BigInt(maxBytes)) return { text: null, validUtf8: true };
    const chunks: Buffer[] = [];
    for await (const chunk of await this.blobs.open(sha256)) chunks.push(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    try {
      return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), validUtf8: true };
    } catch {
      return { text: new TextDecoder("utf-8").decode(bytes), validUtf8: false };
    }
  }
}

function describe(script: ScriptWithArtifact): string {
  return `${script.artifact.component}/${script.artifact.version}/${script.artifact.filename}`;
}
