/** Recent deployments, newest first, filtered by status (and by site when reached from one). */
import { api } from "../../api/client";
import type { ItemList, Page } from "../../api/types";
import { Link, useSearchParams } from "../../router";
import { Badge, ErrorAlert, PageHeader, StatusBadge, formatDate } from "../../components/ui";
import { useResource } from "../../components/useResource";
import type { Site } from "../SitePage";
import { DEPLOYMENT_STATUSES, type Deployment } from "./types";

/** Site names by id, so rows can say where a deployment went (first 200 sites). */
export function useSiteNames(): Map<string, string> {
  const sites = useResource((signal) => api.get<Page<Site>>("/sites", { query: { limit: 200 }, signal }), []);
  return new Map((sites.data?.items ?? []).map((s) => [s.id, `${s.customer} / ${s.name}`]));
}

export function DeploymentsPage() {
  const [params, setParams] = useSearchParams();
  const status = params.get("status") ?? "";
  const site = params.get("site") ?? "";
  const names = useSiteNames();
  const deployments = useResource((signal) => api.get<ItemList<Deployment>>("/deployments", { query: { status, site, limit: 100 }, signal }), [status, site]);

  return (
    <>
      <PageHeader title="Deployments" description="Installs, upgrades and rollbacks sent to sites. Start one from a site's page." />
      <div className="row" style={{ marginBottom: 16 }}>
        <label htmlFor="deployment-status">Status</label>
        <select id="deployment-status" value={status} onChange={(e) => setParams({ status: e.target.value, site })} style={{ maxWidth: 200 }}>
          <option value="">Any</option>
          {DEPLOYMENT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s.replace(/_/g, " ")}
            </option>
          ))}
        </select>
        {site && (
          <span>
            Site <strong>{names.get(site) ?? site}</strong>{" "}
            <button type="button" className="btn small" onClick={() => setParams({ status })}>
              All sites
            </button>
          </span>
        )}
        <span className="muted">The newest 100 are shown.</span>
      </div>
      <ErrorAlert error={deployments.error} />
      <section className="card flush" aria-label="Deployments" aria-busy={deployments.loading}>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Deployment</th>
                <th scope="col">Site</th>
                <th scope="col">Kind</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {deployments.data?.items.map((d) => (
                <tr key={d.id}>
                  <td>
                    <Link to={`/deployments/${d.id}`}>
                      {d.release.product} {d.release.version}
                    </Link>
                  </td>
                  <td>
                    <Link to={`/sites/${encodeURIComponent(d.site)}`}>{names.get(d.site) ?? d.site.slice(0, 8)}</Link>
                  </td>
                  <td>
                    <Badge>{d.kind}</Badge>
                  </td>
                  <td>
                    <StatusBadge status={d.status} />
                  </td>
                  <td>
                    {formatDate(d.createdAt)} <span className="muted">by {d.createdBy}</span>
                  </td>
                </tr>
              ))}
              {deployments.data?.items.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty">
                    No deployments match.
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
