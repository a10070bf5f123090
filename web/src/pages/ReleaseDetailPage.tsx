/** A release: its components in dependency order with their artifacts, sealing, and comparison. */
import { useState } from "react";
import { api, pathOf } from "../api/client";
import type { Page } from "../api/types";
import { Link, useSearchParams } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, CopyButton, ErrorAlert, Loading, PageHeader, StatusBadge, formatBytes, formatDate, shortSha } from "../components/ui";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";
import { RELEASE_WRITERS, type ReleaseSummary } from "./ReleasesPage";
import { ReleaseDiffView, type ReleaseDiff } from "./ReleaseDiffView";

interface ReleaseDetail extends Omit<ReleaseSummary, "components"> {
  components: Array<{
    name: string;
    version: string;
    order: number;
    inCatalog: boolean;
    artifacts: Array<{ filename: string; kind: string; sha256: string; size: number }>;
  }>;
}

export function ReleaseDetailPage({ product, version }: { product: string; version: string }) {
  const me = useMe();
  const { notify } = useToast();
  const [params, setParams] = useSearchParams();
  const compareWith = params.get("compare") ?? "";
  const [busy, setBusy] = useState(false);
  const release = useResource((signal) => api.get<ReleaseDetail>(`/releases/${pathOf(product, version)}`, { signal }), [product, version]);
  const others = useResource(
    (signal) => api.get<Page<ReleaseSummary>>("/releases", { query: { product, limit: 200 }, signal }),
    [product],
  );
  const diff = useResource(
    (signal) =>
      compareWith ? api.get<ReleaseDiff>(`/releases/${pathOf(product, version)}/diff`, { query: { from: compareWith }, signal }) : Promise.resolve(undefined),
    [product, version, compareWith],
  );

  if (release.loading && !release.data) return <Loading />;
  if (!release.data) return <ErrorAlert error={release.error} />;
  const r = release.data;

  const seal = async () => {
    if (!window.confirm(`Seal ${product} ${version}? Its artifact set becomes immutable.`)) return;
    setBusy(true);
    try {
      await api.post(`/releases/${pathOf(product, version)}/seal`);
      notify(`Sealed ${product} ${version}`);
      release.reload();
    } catch (error) {
      notify((error as Error).message, "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p>
        <Link to="/releases">← Releases</Link>
      </p>
      <PageHeader
        title={`${r.product} ${r.version}`}
        description={r.notes ?? undefined}
        actions={
          r.status === "draft" &&
          hasRole(me, RELEASE_WRITERS) && (
            <button type="button" className="btn primary" onClick={seal} disabled={busy}>
              Seal release
            </button>
          )
        }
      />
      <div className="row" style={{ marginBottom: 16 }}>
        <StatusBadge status={r.status} />
        {r.required && <Badge tone="warn">required</Badge>}
        <span className="muted">
          created {formatDate(r.createdAt)} by {r.createdBy}
          {r.sealedAt && ` · sealed ${formatDate(r.sealedAt)} by ${r.sealedBy ?? "?"}`}
        </span>
      </div>
      {r.digest && (
        <div className="secret" style={{ marginBottom: 24 }}>
          <span className="muted">Digest</span>
          <code data-testid="release-digest">{r.digest}</code>
          <CopyButton text={r.digest} />
        </div>
      )}

      <section className="card flush" aria-labelledby="components-heading">
        <h2 id="components-heading" style={{ padding: "16px 16px 0" }}>
          Components <span className="muted">(install order)</span>
        </h2>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col" className="num">
                  #
                </th>
                <th scope="col">Component</th>
                <th scope="col">Version</th>
                <th scope="col">Artifacts</th>
              </tr>
            </thead>
            <tbody>
              {r.components.map((c) => (
                <tr key={c.name}>
                  <td className="num">{c.order + 1}</td>
                  <td>
                    {c.name} {!c.inCatalog && <Badge tone="warn">not in catalog</Badge>}
                  </td>
                  <td>{c.version}</td>
                  <td>
                    {c.artifacts.length === 0 && <span className="muted">none</span>}
                    {c.artifacts.map((a) => (
                      <div key={a.filename}>
                        <Link to={`/artifacts/${pathOf(c.name, c.version, a.filename)}`}>{a.filename}</Link> <Badge>{a.kind}</Badge>{" "}
                        <span className="muted">
                          {formatBytes(a.size)} · <code>{shortSha(a.sha256)}</code>
                        </span>
                      </div>
                    ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>

      <section className="card" aria-labelledby="compare-heading">
        <h2 id="compare-heading">Compare</h2>
        <div className="row">
          <label htmlFor="compare-from">
            What changes from
          </label>
          <select id="compare-from" value={compareWith} onChange={(e) => setParams({ compare: e.target.value })} style={{ maxWidth: 240 }}>
            <option value="">Pick a release…</option>
            {others.data?.items
              .filter((o) => o.version !== version)
              .map((o) => (
                <option key={o.version} value={o.version}>
                  {o.product} {o.version} ({o.status})
                </option>
              ))}
          </select>
          <span>
            to {r.product} {r.version}
          </span>
        </div>
        <ErrorAlert error={diff.error} />
        {diff.data && <ReleaseDiffView diff={diff.data} />}
      </section>
    </>
  );
}
