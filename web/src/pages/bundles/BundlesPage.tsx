/** Bundles, newest first, filtered by status; more load on demand. */
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Link, useSearchParams } from "../../router";
import { hasRole, useMe } from "../../session";
import { PageHeader, StatusBadge, formatBytes, formatDate } from "../../components/ui";
import { DataTable } from "../../components/DataTable";
import { useCursorList } from "../../components/useCursorList";
import type { Bundle } from "./BundlePage";

export const BUNDLE_BUILDERS = ["delivery", "admin"] as const;

export function BundlesPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const bundles = useCursorList((page, signal) => api.get<Page<Bundle>>("/bundles", { query: { status, ...page }, signal }), [status]);

  return (
    <>
      <PageHeader
        title="Bundles"
        description="Signed offline bundles built for a site and a release."
        actions={
          hasRole(me, BUNDLE_BUILDERS) && (
            <Link to="/bundles/new" className="btn primary">
              Build a bundle
            </Link>
          )
        }
      />
      <div className="row" style={{ marginBottom: 16 }}>
        <label htmlFor="bundle-status">Status</label>
        <select id="bundle-status" value={status} onChange={(e) => setParams({ status: e.target.value })} style={{ maxWidth: 200 }}>
          <option value="">Any</option>
          {["queued", "building", "ready", "failed", "expired"].map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <DataTable
        label="Bundles"
        rows={bundles.items}
        rowKey={(b) => b.id}
        loading={bundles.loading}
        error={bundles.error}
        empty={status ? "No bundles match." : "No bundles yet."}
        paging={{ kind: "more", list: bundles, noun: "bundles" }}
        columns={[
          {
            header: "Bundle",
            cell: (b) => (
              <Link to={`/bundles/${b.id}`}>
                {b.release.product} {b.release.version}
                {b.from ? ` from ${b.from}` : " (full)"}
              </Link>
            ),
          },
          { header: "Status", cell: (b) => <StatusBadge status={b.status} /> },
          { header: "Size", numeric: true, cell: (b) => (b.size === null ? "—" : formatBytes(b.size)) },
          {
            header: "Requested",
            cell: (b) => (
              <>
                {formatDate(b.createdAt)} <span className="muted">by {b.createdBy}</span>
              </>
            ),
          },
        ]}
      />
    </>
  );
}
