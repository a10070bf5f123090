/** Deployments, newest first, filtered by status (and by site when reached from one); more load on demand. */
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Link, useSearchParams } from "../../router";
import { Badge, PageHeader, formatDate } from "../../components/ui";
import { DataTable } from "../../components/DataTable";
import { useCursorList } from "../../components/useCursorList";
import { useResource } from "../../components/useResource";
import type { Site } from "../SitePage";
import { DeploymentStatus } from "./DeploymentStatus";
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
  const deployments = useCursorList((page, signal) => api.get<Page<Deployment>>("/deployments", { query: { status, site, ...page }, signal }), [status, site]);

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
      </div>
      <DataTable
        label="Deployments"
        rows={deployments.items}
        rowKey={(d) => d.id}
        loading={deployments.loading}
        error={deployments.error}
        empty="No deployments match."
        paging={{ kind: "more", list: deployments, noun: "deployments" }}
        columns={[
          {
            header: "Deployment",
            cell: (d) => (
              <Link to={`/deployments/${d.id}`}>
                {d.release.product} {d.release.version}
              </Link>
            ),
          },
          { header: "Site", cell: (d) => <Link to={`/sites/${encodeURIComponent(d.site)}`}>{names.get(d.site) ?? d.site.slice(0, 8)}</Link> },
          { header: "Kind", cell: (d) => <Badge>{d.kind}</Badge> },
          { header: "Status", cell: (d) => <DeploymentStatus deployment={d} /> },
          {
            header: "Started",
            cell: (d) => (
              <>
                {formatDate(d.createdAt)} <span className="muted">by {d.createdBy}</span>
              </>
            ),
          },
        ]}
      />
    </>
  );
}
