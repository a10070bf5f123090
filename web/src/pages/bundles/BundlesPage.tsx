/** Recent bundles, newest first, filtered by status. */
import { api } from "../../api/client";
import type { ItemList } from "../../api/types";
import { Link, useSearchParams } from "../../router";
import { hasRole, useMe } from "../../session";
import { ErrorAlert, PageHeader, StatusBadge, formatBytes, formatDate } from "../../components/ui";
import { useResource } from "../../components/useResource";
import type { Bundle } from "./BundlePage";

export const BUNDLE_BUILDERS = ["delivery", "admin"] as const;

export function BundlesPage() {
  const me = useMe();
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const bundles = useResource((signal) => api.get<ItemList<Bundle>>("/bundles", { query: { status, limit: 100 }, signal }), [status]);

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
        <span className="muted">The newest 100 are shown.</span>
      </div>
      <ErrorAlert error={bundles.error} />
      <section className="card flush" aria-label="Bundles" aria-busy={bundles.loading}>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Bundle</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">
                  Size
                </th>
                <th scope="col">Requested</th>
              </tr>
            </thead>
            <tbody>
              {bundles.data?.items.map((b) => (
                <tr key={b.id}>
                  <td>
                    <Link to={`/bundles/${b.id}`}>
                      {b.release.product} {b.release.version}
                      {b.from ? ` from ${b.from}` : " (full)"}
                    </Link>
                  </td>
                  <td>
                    <StatusBadge status={b.status} />
                  </td>
                  <td className="num">{b.size === null ? "—" : formatBytes(b.size)}</td>
                  <td>
                    {formatDate(b.createdAt)} <span className="muted">by {b.createdBy}</span>
                  </td>
                </tr>
              ))}
              {bundles.data?.items.length === 0 && (
                <tr>
                  <td colSpan={4} className="empty">
                    No bundles yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}
