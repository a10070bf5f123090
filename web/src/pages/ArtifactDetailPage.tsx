import { useState } from "react";
import { api, API_BASE, ApiError, pathOf } from "../api/client";
import { downloadViaLink } from "../api/stream";
import type { Artifact } from "../api/types";
import { Link, useRouter } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, CopyButton, ErrorAlert, Loading, PageHeader, StatusBadge, formatBytes, formatDate } from "../components/ui";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";

interface ArtifactInfo extends Artifact {
  releases: Array<{ product: string; version: string; status: string }>;
}

interface Props {
  component: string;
  version: string;
  filename: string;
}

export function ArtifactDetailPage({ component, version, filename }: Props) {
  const me = useMe();
  const { navigate } = useRouter();
  const { notify } = useToast();
  const [busy, setBusy] = useState(false);
  const info = useResource(
    (signal) => api.get<ArtifactInfo>(`/artifacts/${pathOf(component, version, filename)}/info`, { signal }),
    [component, version, filename],
  );

  const remove = async () => {
    if (!window.confirm(`Delete ${component}/${version}/${filename}? This cannot be undone.`)) return;
    setBusy(true);
    try {
      await api.delete(`/artifacts/${pathOf(component, version, filename)}`);
      notify(`Deleted ${filename}`);
      navigate("/artifacts");
    } catch (error) {
      notify((error as Error).message, "error");
      setBusy(false);
    }
  };

  const onDownload = async (artifact: ArtifactInfo) => {
    setBusy(true);
    try {
      await downloadViaLink(`/artifacts/${pathOf(artifact.component, artifact.version, artifact.filename)}/download-link`);
    } catch (error) {
      notify(error instanceof ApiError ? error.message : "The download failed.", "error");
    } finally {
      setBusy(false);
    }
  };

  const title = filename;
  if (info.loading && !info.data) return <Loading />;
  if (info.error || !info.data) {
    return (
      <>
        <PageHeader title={title} />
        <ErrorAlert error={info.error ?? new Error("Artifact not found.")} />
        <Link to="/artifacts">Back to artifacts</Link>
      </>
    );
  }
  const a = info.data;
  const curl = `curl -fO -u USER:TOKEN ${window.location.origin}${API_BASE}/artifacts/${pathOf(a.component, a.version, a.filename)}`;

  return (
    <>
      <p>
        <Link to="/artifacts">← Artifacts</Link>
      </p>
      <PageHeader
        title={title}
        description={`${a.component} ${a.version}`}
        actions={
          <>
            <button type="button" className="btn primary" onClick={() => onDownload(a)} disabled={busy}>
              Download
            </button>
            {hasRole(me, ["admin"]) && (
              <button type="button" className="btn danger" onClick={remove} disabled={busy}>
                Delete
              </button>
            )}
          </>
        }
      />
      <div className="grid-2">
        <section className="card" aria-labelledby="facts-heading">
          <h2 id="facts-heading">Details</h2>
          <dl className="facts">
            <dt>Component</dt>
            <dd>{a.component}</dd>
            <dt>Version</dt>
            <dd>{a.version}</dd>
            <dt>Kind</dt>
            <dd>
              <Badge>{a.kind}</Badge>
            </dd>
            <dt>Size</dt>
            <dd>
              {formatBytes(a.size)} <span className="muted">({a.size.toLocaleString()} bytes)</span>
            </dd>
            <dt>SHA-256</dt>
            <dd>
              <code data-testid="artifact-sha256">{a.sha256}</code> <CopyButton text={a.sha256} />
            </dd>
            <dt>Uploaded by</dt>
            <dd>{a.uploadedBy}</dd>
            <dt>Uploaded</dt>
            <dd>{formatDate(a.createdAt)}</dd>
            {a.contentType && (
              <>
                <dt>Content type</dt>
                <dd>{a.contentType}</dd>
              </>
            )}
          </dl>
        </section>
        <div>
          {a.sql && (
            <section className="card" aria-labelledby="sql-heading">
              <h2 id="sql-heading">SQL script</h2>
              <dl className="facts">
                <dt>Database</dt>
                <dd>{a.sql.database}</dd>
                <dt>Dialect</dt>
                <dd>{a.sql.dialect}</dd>
                <dt>Type</dt>
                <dd>{a.sql.type}</dd>
                <dt>Order</dt>
                <dd>{a.sql.orderVersion}</dd>
                <dt>Review</dt>
                <dd>
                  <StatusBadge status={a.sql.status} />
                </dd>
              </dl>
            </section>
          )}
          <section className="card" aria-labelledby="releases-heading">
            <h2 id="releases-heading">Releases using it</h2>
            {a.releases.length === 0 ? (
              <p className="muted">No release includes {a.component} {a.version} yet.</p>
            ) : (
              <ul>
                {a.releases.map((r) => (
                  <li key={`${r.product}/${r.version}`}>
                    {r.product} {r.version} <StatusBadge status={r.status} />
                  </li>
                ))}
              </ul>
            )}
          </section>
          <section className="card" aria-labelledby="curl-heading">
            <h2 id="curl-heading">From a script</h2>
            <div className="secret">
              <code>{curl}</code>
              <CopyButton text={curl} />
            </div>
          </section>
        </div>
      </div>
    </>
  );
}
