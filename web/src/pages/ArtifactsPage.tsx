/**
 * Browse and search artifacts. Filters live in the URL so a search can be shared;
 * paging follows the API's keyset cursor, with a stack of earlier cursors for "Previous".
 */
import { useEffect, useState, type FormEvent } from "react";
import { api, pathOf } from "../api/client";
import { ARTIFACT_KINDS, type Artifact, type Page } from "../api/types";
import { Link, useSearchParams } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, ErrorAlert, PageHeader, StatusBadge, formatBytes, formatDate, shortSha } from "../components/ui";
import { useResource } from "../components/useResource";

const PAGE_SIZE = 25;

export function artifactHref(a: Pick<Artifact, "component" | "version" | "filename">): string {
  return `/artifacts/${pathOf(a.component, a.version, a.filename)}`;
}

export function ArtifactsPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const filters = {
    component: params.get("component") ?? "",
    version: params.get("version") ?? "",
    kind: params.get("kind") ?? "",
    q: params.get("q") ?? "",
  };
  const [draft, setDraft] = useState(filters);
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const filterKey = JSON.stringify(filters);

  useEffect(() => {
    setDraft(filters);
    setCursors([]);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filterKey]);

  const page = useResource(
    (signal) => api.get<Page<Artifact>>("/artifacts", { query: { ...filters, cursor, limit: PAGE_SIZE }, signal }),
    [filterKey, cursor],
  );

  const search = (event: FormEvent) => {
    event.preventDefault();
    setParams({ component: draft.component.trim(), version: draft.version.trim(), kind: draft.kind, q: draft.q.trim() });
  };
  const clear = () => setParams({});
  const hasFilters = Object.values(filters).some(Boolean);

  return (
    <>
      <PageHeader
        title="Artifacts"
        description="Binaries, images, SQL scripts and charts, each stored once by SHA-256."
        actions={
          hasRole(me, ["ci", "admin"]) && (
            <Link to="/upload" className="btn primary">
              Upload artifacts
            </Link>
          )
        }
      />
      <section className="card" aria-labelledby="filters-heading">
        <h2 id="filters-heading" className="visually-hidden">
          Filters
        </h2>
        <form className="filters" onSubmit={search} role="search">
          <div className="field">
            <label htmlFor="f-q">Search</label>
            <input id="f-q" type="search" placeholder="File or component name" value={draft.q} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="f-component">Component</label>
            <input id="f-component" type="text" value={draft.component} onChange={(e) => setDraft({ ...draft, component: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="f-version">Version</label>
            <input id="f-version" type="text" value={draft.version} onChange={(e) => setDraft({ ...draft, version: e.target.value })} />
          </div>
          <div className="field">
            <label htmlFor="f-kind">Kind</label>
            <select id="f-kind" value={draft.kind} onChange={(e) => setDraft({ ...draft, kind: e.target.value })}>
              <option value="">Any kind</option>
              {ARTIFACT_KINDS.map((kind) => (
                <option key={kind} value={kind}>
                  {kind}
                </option>
              ))}
            </select>
          </div>
          <div className="row">
            <button type="submit" className="btn primary">
              Search
            </button>
            {hasFilters && (
              <button type="button" className="btn" onClick={clear}>
                Clear
              </button>
            )}
          </div>
        </form>
      </section>

      <ErrorAlert error={page.error} />
      <section className="card flush" aria-labelledby="results-heading" aria-busy={page.loading}>
        <h2 id="results-heading" className="visually-hidden">
          Results
        </h2>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Component</th>
                <th scope="col">Version</th>
                <th scope="col">Kind</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">SHA-256</th>
                <th scope="col">Uploaded</th>
              </tr>
            </thead>
            <tbody>
              {page.data?.items.map((artifact) => (
                <tr key={artifact.id}>
                  <td>
                    <Link to={artifactHref(artifact)}>{artifact.filename}</Link>
                  </td>
                  <td>{artifact.component}</td>
                  <td>{artifact.version}</td>
                  <td>
                    <Badge>{artifact.kind}</Badge>
                    {artifact.sql && <StatusBadge status={artifact.sql.status} />}
                  </td>
                  <td className="num">{formatBytes(artifact.size)}</td>
                  <td>
                    <code title={artifact.sha256}>{shortSha(artifact.sha256)}</code>
                  </td>
                  <td>
                    {formatDate(artifact.createdAt)}
                    <div className="muted">{artifact.uploadedBy}</div>
                  </td>
                </tr>
              ))}
              {page.data && page.data.items.length === 0 && (
                <tr>
                  <td colSpan={7} className="empty">
                    {hasFilters ? "No artifact matches these filters." : "No artifacts yet."}
                  </td>
                </tr>
              )}
              {!page.data && page.loading && (
                <tr>
                  <td colSpan={7} className="empty">
                    Loading…
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        <nav className="pager" aria-label="Pages of artifacts">
          <button type="button" className="btn small" disabled={cursors.length === 0} onClick={() => setCursors(cursors.slice(0, -1))}>
            Previous
          </button>
          <span className="muted">Page {cursors.length + 1}</span>
          <button
            type="button"
            className="btn small"
            disabled={!page.data?.nextCursor || page.loading}
            onClick={() => page.data?.nextCursor && setCursors([...cursors, page.data.nextCursor])}
          >
            Next
          </button>
        </nav>
      </section>
    </>
  );
}
