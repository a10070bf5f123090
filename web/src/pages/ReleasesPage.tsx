/** Releases: list with filters and paging, and a form to compose a draft from component versions. */
import { useState, type FormEvent } from "react";
import { api, pathOf } from "../api/client";
import type { Page } from "../api/types";
import { Link, useRouter, useSearchParams } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, ErrorAlert, PageHeader, StatusBadge, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorStack } from "../components/Pager";
import { useResource } from "../components/useResource";

export interface ReleaseSummary {
  product: string;
  version: string;
  status: "draft" | "sealed";
  required: boolean;
  notes: string | null;
  digest: string | null;
  sealedAt: string | null;
  sealedBy: string | null;
  createdBy: string;
  createdAt: string;
  components: Array<{ name: string; version: string }>;
}

export const RELEASE_WRITERS = ["ci", "delivery", "admin"] as const;

export function releaseHref(r: { product: string; version: string }): string {
  return `/releases/${pathOf(r.product, r.version)}`;
}

export function ReleasesPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const product = params.get("product") ?? "";
  const status = params.get("status") ?? "";
  const [draftProduct, setDraftProduct] = useState(product);
  const key = `${product}|${status}`;
  const stack = useCursorStack(key);
  const page = useResource(
    (signal) => api.get<Page<ReleaseSummary>>("/releases", { query: { product, status, cursor: stack.cursor, limit: 25 }, signal }),
    [key, stack.cursor],
  );
  const canWrite = hasRole(me, RELEASE_WRITERS);

  return (
    <>
      <PageHeader
        title="Releases"
        description="A product version: a set of component versions, sealed with a digest over its exact artifacts."
        actions={
          canWrite && (
            <Link to="/releases/new" className="btn primary">
              New release
            </Link>
          )
        }
      />
      <form
        className="card filters"
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          setParams({ product: draftProduct.trim(), status });
        }}
      >
        <div className="field">
          <label htmlFor="r-product">Product</label>
          <input id="r-product" type="text" value={draftProduct} onChange={(e) => setDraftProduct(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="r-status">Status</label>
          <select id="r-status" value={status} onChange={(e) => setParams({ product, status: e.target.value })}>
            <option value="">Any</option>
            <option value="draft">Draft</option>
            <option value="sealed">Sealed</option>
          </select>
        </div>
        <div className="row">
          <button type="submit" className="btn primary">
            Filter
          </button>
        </div>
      </form>
      <DataTable
        label="Releases"
        rows={page.data?.items}
        rowKey={(r) => `${r.product}/${r.version}`}
        loading={page.loading}
        error={page.error}
        empty={product || status ? "No releases match." : "No releases yet."}
        paging={{ kind: "pages", stack, nextCursor: page.data?.nextCursor, label: "Pages of releases" }}
        columns={[
          {
            header: "Release",
            cell: (r) => (
              <>
                <Link to={releaseHref(r)}>
                  {r.product} {r.version}
                </Link>
                {r.required && (
                  <>
                    {" "}
                    <Badge tone="warn">required</Badge>
                  </>
                )}
              </>
            ),
          },
          { header: "Status", cell: (r) => <StatusBadge status={r.status} /> },
          { header: "Components", numeric: true, cell: (r) => r.components.length },
          {
            header: "Created",
            cell: (r) => (
              <>
                {formatDate(r.createdAt)} <span className="muted">by {r.createdBy}</span>
              </>
            ),
          },
          { header: "Sealed", cell: (r) => (r.sealedAt ? `${formatDate(r.sealedAt)} by ${r.sealedBy ?? "?"}` : "—") },
        ]}
      />
    </>
  );
}

export function NewReleasePage() {
  const { navigate } = useRouter();
  const [product, setProduct] = useState("");
  const [version, setVersion] = useState("");
  const [notes, setNotes] = useState("");
  const [required, setRequired] = useState(false);
  const [components, setComponents] = useState([{ name: "", version: "" }]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const setRow = (index: number, patch: Partial<{ name: string; version: string }>) =>
    setComponents(components.map((c, i) => (i === index ? { ...c, ...patch } : c)));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const body = {
        product: product.trim(),
        version: version.trim(),
        components: components.filter((c) => c.name.trim()).map((c) => ({ name: c.name.trim(), version: c.version.trim() })),
        required,
        ...(notes.trim() ? { notes: notes.trim() } : {}),
      };
      const created = await api.post<ReleaseSummary>("/releases", body);
      navigate(releaseHref(created));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <>
      <p>
        <Link to="/releases">← Releases</Link>
      </p>
      <PageHeader title="New release" description="Compose a draft from component versions whose artifacts are uploaded; seal it when it is final." />
      <form className="card" onSubmit={submit}>
        <ErrorAlert error={error} />
        <div className="filters">
          <div className="field">
            <label htmlFor="nr-product">Product</label>
            <input id="nr-product" type="text" required value={product} onChange={(e) => setProduct(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="nr-version">Version</label>
            <input id="nr-version" type="text" required value={version} onChange={(e) => setVersion(e.target.value)} placeholder="2.4.0" />
          </div>
        </div>
        <fieldset style={{ marginTop: 16 }}>
          <legend>Components</legend>
          {components.map((c, i) => (
            <div className="row" key={i} style={{ marginBottom: 8 }}>
              <label className="visually-hidden" htmlFor={`nr-c-${i}`}>
                Component {i + 1} name
              </label>
              <input id={`nr-c-${i}`} type="text" placeholder="component" value={c.name} onChange={(e) => setRow(i, { name: e.target.value })} style={{ maxWidth: 260 }} />
              <label className="visually-hidden" htmlFor={`nr-v-${i}`}>
                Component {i + 1} version
              </label>
              <input id={`nr-v-${i}`} type="text" placeholder="version" value={c.version} onChange={(e) => setRow(i, { version: e.target.value })} style={{ maxWidth: 180 }} />
              {components.length > 1 && (
                <button type="button" className="btn ghost small" onClick={() => setComponents(components.filter((_, j) => j !== i))} aria-label={`Remove component ${i + 1}`}>
                  Remove
                </button>
              )}
            </div>
          ))}
          <button type="button" className="btn small" onClick={() => setComponents([...components, { name: "", version: "" }])}>
            Add component
          </button>
        </fieldset>
        <div className="field">
          <label htmlFor="nr-notes">Release notes</label>
          <textarea id="nr-notes" value={notes} onChange={(e) => setNotes(e.target.value)} />
        </div>
        <div className="field">
          <label className="row">
            <input type="checkbox" checked={required} onChange={(e) => setRequired(e.target.checked)} />
            Required release: upgrades must step through it, never jump over it
          </label>
        </div>
        <button type="submit" className="btn primary" disabled={busy}>
          Create draft
        </button>
      </form>
    </>
  );
}
