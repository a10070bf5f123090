/** One SQL script: content with findings inline, earlier versions, decisions, and the review form. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { Link } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, ErrorAlert, Loading, PageHeader, StatusBadge, formatBytes, formatDate } from "../components/ui";
import { SqlView } from "../components/SqlView";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";
import { artifactHref } from "./ArtifactsPage";
import { FindingCounts, type SqlScript } from "./SqlQueuePage";

interface SqlScriptDetail extends SqlScript {
  content: string | null;
  contentTruncated: boolean;
  reviews: Array<{ id: string; reviewer: string; decision: string; comment: string | null; sha256: string; createdAt: string }>;
  previousVersions: Array<{ id: string; component: string; version: string; sha256: string; sameContent: boolean; status: string; createdAt: string }>;
}

export function SqlScriptPage({ id }: { id: string }) {
  const me = useMe();
  const { notify } = useToast();
  const script = useResource((signal) => api.get<SqlScriptDetail>(`/sql-scripts/${encodeURIComponent(id)}`, { signal }), [id]);
  const [comment, setComment] = useState("");
  const [reviewError, setReviewError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  if (script.loading && !script.data) return <Loading />;
  if (!script.data) return <ErrorAlert error={script.error} />;
  const s = script.data;
  const isDba = hasRole(me, ["dba"]);
  const ownScript = s.uploadedBy === me.username;

  const review = (decision: "approve" | "reject") => async (event?: FormEvent) => {
    event?.preventDefault();
    setBusy(true);
    setReviewError(undefined);
    try {
      await api.post(`/sql-scripts/${encodeURIComponent(id)}/review`, { decision, ...(comment.trim() ? { comment: comment.trim() } : {}) });
      notify(decision === "approve" ? `Approved ${s.filename}` : `Rejected ${s.filename}`);
      setComment("");
      script.reload();
    } catch (error) {
      setReviewError(error);
    } finally {
      setBusy(false);
    }
  };

  const wholeScriptFindings = s.findings.filter((f) => f.line === null);

  return (
    <>
      <p>
        <Link to="/sql">← SQL review</Link>
      </p>
      <PageHeader title={s.filename} description={`${s.component} ${s.version} · ${s.database} (${s.dialect}) · ${s.type}${s.orderVersion ? ` ${s.orderVersion}` : ""}`} />
      <div className="row" style={{ marginBottom: 16 }}>
        <StatusBadge status={s.status} />
        {s.status === "approved" && !s.approvalValid && <Badge tone="danger">approval no longer matches the content</Badge>}
        <FindingCounts counts={s.findingCounts} />
        <span className="muted">
          uploaded by {s.uploadedBy}, {formatDate(s.createdAt)} · {formatBytes(s.size)} ·{" "}
          <Link to={artifactHref(s)}>artifact</Link>
        </span>
      </div>

      <section className="card" aria-labelledby="content-heading">
        <h2 id="content-heading">Script</h2>
        {wholeScriptFindings.map((f, i) => (
          <div key={i} className={`alert ${f.severity === "error" ? "error" : "info"}`}>
            <strong>{f.severity}</strong> <code>{f.rule}</code> — {f.message}
          </div>
        ))}
        {s.content === null ? (
          <p className="muted">The content is not shown here (binary or too large); download the artifact to read it.</p>
        ) : (
          <>
            <SqlView text={s.content} findings={s.findings} />
            {s.contentTruncated && <p className="muted">Only the beginning of the script is shown.</p>}
          </>
        )}
      </section>

      <div className="grid-2">
        <section className="card" aria-labelledby="review-heading">
          <h2 id="review-heading">Review</h2>
          {!isDba ? (
            <p className="muted">Only DBAs review SQL scripts.</p>
          ) : ownScript ? (
            <p className="muted">You uploaded this script; another DBA must review it (four-eyes rule).</p>
          ) : (
            <form onSubmit={review("approve")}>
              <ErrorAlert error={reviewError} />
              <div className="field">
                <label htmlFor="review-comment">Comment</label>
                <textarea id="review-comment" value={comment} onChange={(e) => setComment(e.target.value)} aria-describedby="review-comment-hint" />
                <span id="review-comment-hint" className="hint">
                  Required when rejecting. Approval pins this exact content (SHA-256).
                </span>
              </div>
              <div className="row">
                <button type="submit" className="btn primary" disabled={busy}>
                  Approve
                </button>
                <button type="button" className="btn danger" disabled={busy} onClick={() => review("reject")()}>
                  Reject
                </button>
              </div>
            </form>
          )}
          <h3 style={{ marginTop: 24 }}>Decisions</h3>
          {s.reviews.length === 0 ? (
            <p className="muted">No decision yet.</p>
          ) : (
            <ol className="timeline" aria-label="Decisions">
              {s.reviews.map((r) => (
                <li key={r.id}>
                  <div>
                    <StatusBadge status={r.decision === "approve" ? "approved" : r.decision === "reject" ? "rejected" : r.decision} /> by <strong>{r.reviewer}</strong>
                  </div>
                  {r.comment && <p style={{ margin: "4px 0" }}>{r.comment}</p>}
                  <div className="when">
                    {formatDate(r.createdAt)} · <code>{r.sha256.slice(0, 12)}</code>
                  </div>
                </li>
              ))}
            </ol>
          )}
        </section>

        <section className="card" aria-labelledby="versions-heading">
          <h2 id="versions-heading">Earlier versions</h2>
          {s.previousVersions.length === 0 ? (
            <p className="muted">This is the first version of this script.</p>
          ) : (
            <ul>
              {s.previousVersions.map((v) => (
                <li key={v.id}>
                  <Link to={`/sql/${encodeURIComponent(v.id)}`}>
                    {v.component} {v.version}
                  </Link>{" "}
                  <StatusBadge status={v.status} /> {v.sameContent ? <Badge tone="ok">same content</Badge> : <Badge tone="warn">changed</Badge>}
                  <div className="muted">{formatDate(v.createdAt)}</div>
                </li>
              ))}
            </ul>
          )}
        </section>
      </div>
    </>
  );
}
