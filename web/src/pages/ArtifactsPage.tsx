/**
 * Browse and search artifacts. Filters live in the URL so a search can be shared;
 * paging follows the API's keyset cursor, with a stack of earlier cursors for "Previous".
 */
import { useEffect, useState, type FormEvent } from "react";
import { api, pathOf } from "../api/client";
import { ARTIFACT_KINDS, type Artifact, type Page } from "../api/types";
import { Link, useSearchParams } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, PageHeader, StatusBadge, formatBytes, formatDate, shortSha } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorStack } from "../components/Pager";
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
  const filterKey = JSON.stringify(filters);
  const stack = useCursorStack(filterKey);

  useEffect(() => {
    setDraft(filters);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [filterKey]);

  const page = useResource(
    (signal) => api.get<Page<Artifact>>("/artifacts", { query: { ...filters, cursor: stack.cursor, limit: PAGE_SIZE }, signal }),
    [filterKey, stack.cursor],
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

      <DataTable
        labelledBy="results-heading"
        header={
          <h2 id="results-heading" className="visually-hidden">
            Results
          </h2>
        }
        rows={page.data?.items}
        rowKey={(artifact) => artifact.id}
        loading={page.loading}
        error={page.error}
        empty={hasFilters ? "No artifact matches these filters." : "No artifacts yet."}
        paging={{ kind: "pages", stack, nextCursor: page.data?.nextCursor, label: "Pages of artifacts" }}
        columns={[
          { header: "File", cell: (artifact) => <Link to={artifactHref(artifact)}>{artifact.filename}</Link> },
          { header: "Component", cell: (artifact) => artifact.component },
          { header: "Version", cell: (artifact) => artifact.version },
          {
            header: "Kind",
            cell: (artifact) => (
              <>
                <Badge>{artifact.kind}</Badge>
                {artifact.sql && <StatusBadge status={artifact.sql.status} />}
              </>
            ),
          },
          { header: "Size", numeric: true, cell: (artifact) => formatBytes(artifact.size) },
          { header: "SHA-256", cell: (artifact) => <code title={artifact.sha256}>{shortSha(artifact.sha256)}</code> },
          {
            header: "Uploaded",
            cell: (artifact) => (
              <>
                {formatDate(artifact.createdAt)}
                <div className="muted">{artifact.uploadedBy}</div>
              </>
            ),
          },
        ]}
      />
    </>
  );
}
