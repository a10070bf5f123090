/**
 * What needs attention: sites and how far each is behind the newest sealed release of
 * its product, SQL scripts waiting for review, bundles being built, deployments running
 * or failed. Composed from the
 * list APIs (first pages only; the counts say so when there is more).
 */
import { api } from "../api/client";
import type { ItemList, Page } from "../api/types";
import { Link } from "../router";
import { Badge, ErrorAlert, PageHeader, formatDate } from "../components/ui";
import { useResource } from "../components/useResource";
import type { ReleaseSummary } from "./ReleasesPage";
import { releaseHref } from "./ReleasesPage";
import type { Site } from "./SitePage";
import { AgentStatus } from "./SitePage";
import type { SqlScript } from "./SqlQueuePage";
import type { Bundle } from "./bundles/BundlePage";
import { DeploymentsPanel } from "./deployments/DeploymentsPanel";

interface Overview {
  sites: Page<Site>;
  releases: Page<ReleaseSummary>;
  pending: Page<SqlScript>;
  bundles: Bundle[];
}

async function loadOverview(signal: AbortSignal): Promise<Overview> {
  const [sites, releases, pending, queued, building] = await Promise.all([
    api.get<Page<Site>>("/sites", { query: { limit: 200 }, signal }),
    api.get<Page<ReleaseSummary>>("/releases", { query: { status: "sealed", limit: 200 }, signal }),
    api.get<Page<SqlScript>>("/sql-scripts", { query: { status: "pending", limit: 10 }, signal }),
    api.get<ItemList<Bundle>>("/bundles", { query: { status: "queued", limit: 20 }, signal }).catch(() => ({ items: [] })),
    api.get<ItemList<Bundle>>("/bundles", { query: { status: "building", limit: 20 }, signal }).catch(() => ({ items: [] })),
  ]);
  return { sites, releases, pending, bundles: [...building.items, ...queued.items] };
}

/** Sealed releases of the site's product newer than the one it runs (the list is newest first). */
function behind(site: Site, releases: ReleaseSummary[]): { newest?: ReleaseSummary; count: number | null } {
  if (!site.installed) return { count: null };
  const ofProduct = releases.filter((r) => r.product === site.installed!.product);
  const position = ofProduct.findIndex((r) => r.version === site.installed!.version);
  return { newest: ofProduct[0], count: position === -1 ? null : position };
}

export function DashboardPage() {
  const overview = useResource(loadOverview, []);
  const data = overview.data;

  return (
    <>
      <PageHeader title="Dashboard" description="What runs where, and what waits for someone." />
      <ErrorAlert error={overview.error} />
      <div className="grid-2">
        <section className="card" aria-labelledby="pending-heading">
          <h2 id="pending-heading">SQL waiting for review</h2>
          {data && data.pending.items.length === 0 && <p className="muted">Nothing waits for a DBA.</p>}
          <ul>
            {data?.pending.items.map((s) => (
              <li key={s.id}>
                <Link to={`/sql/${encodeURIComponent(s.id)}`}>{s.filename}</Link> <span className="muted">{s.component} {s.version}</span>
              </li>
            ))}
          </ul>
          {data?.pending.nextCursor && <Link to="/sql">More in the review queue</Link>}
        </section>
        <section className="card" aria-labelledby="building-heading">
          <h2 id="building-heading">Bundles being built</h2>
          {data && data.bundles.length === 0 && <p className="muted">No bundle is being built.</p>}
          <ul>
            {data?.bundles.map((b) => (
              <li key={b.id}>
                <Link to={`/bundles/${b.id}`}>
                  {b.release.product} {b.release.version}
                </Link>{" "}
                <Badge tone="info">{b.status}</Badge> <span className="muted">{formatDate(b.createdAt)}</span>
              </li>
            ))}
          </ul>
        </section>
        <DeploymentsPanel />
      </div>
      <section className="card flush" aria-labelledby="sites-heading" aria-busy={overview.loading}>
        <h2 id="sites-heading" style={{ padding: "16px 16px 0" }}>
          Sites
        </h2>
        <div className="table-wrap">
          <table className="data">
            <thead>
              <tr>
                <th scope="col">Site</th>
                <th scope="col">Runs</th>
                <th scope="col">Newest sealed</th>
                <th scope="col">Behind</th>
                <th scope="col">Connectivity</th>
              </tr>
            </thead>
            <tbody>
              {data?.sites.items.map((site) => {
                const lag = behind(site, data.releases.items);
                return (
                  <tr key={site.id}>
                    <td>
                      <Link to={`/sites/${site.id}`}>
                        {site.customer} / {site.name}
                      </Link>{" "}
                      <span className="muted">{site.environment}</span>
                    </td>
                    <td>{site.installed ? `${site.installed.product} ${site.installed.version}` : <span className="muted">nothing recorded</span>}</td>
                    <td>{lag.newest ? <Link to={releaseHref(lag.newest)}>{lag.newest.version}</Link> : "—"}</td>
                    <td>
                      {lag.count === null ? (
                        <span className="muted">—</span>
                      ) : lag.count === 0 ? (
                        <Badge tone="ok">up to date</Badge>
                      ) : (
                        <Badge tone="warn">
                          {lag.count} release{lag.count === 1 ? "" : "s"} behind
                        </Badge>
                      )}
                    </td>
                    <td>
                      {site.connectivity} <AgentStatus site={site} />
                    </td>
                  </tr>
                );
              })}
              {data?.sites.items.length === 0 && (
                <tr>
                  <td colSpan={5} className="empty">
                    No sites yet.
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </div>
        {data?.sites.nextCursor && (
          <p className="muted" style={{ padding: "0 16px 16px" }}>
            The first 200 sites are shown; see <Link to="/customers">customers</Link> for all.
          </p>
        )}
      </section>
    </>
  );
}
