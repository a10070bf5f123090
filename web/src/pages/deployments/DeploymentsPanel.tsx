/** Dashboard panel: deployments that are running (or queued) and those that failed. */
import { api } from "../../api/client";
import type { ItemList } from "../../api/types";
import { Link } from "../../router";
import { formatDate } from "../../components/ui";
import { useResource } from "../../components/useResource";
import { DeploymentStatus } from "./DeploymentStatus";
import { deploymentTitle, type Deployment } from "./types";

async function loadAttention(signal: AbortSignal): Promise<Deployment[]> {
  const lists = await Promise.all(
    (["running", "queued", "failed"] as const).map((status) => api.get<ItemList<Deployment>>("/deployments", { query: { status, limit: 10 }, signal })),
  );
  return lists.flatMap((list) => list.items);
}

export function DeploymentsPanel() {
  const deployments = useResource(loadAttention, []);
  const items = deployments.data;
  return (
    <section className="card" aria-labelledby="deployments-heading" aria-busy={deployments.loading}>
      <h2 id="deployments-heading">Deployments running or failed</h2>
      {deployments.error ? <p className="muted">Deployments could not be loaded: {(deployments.error as Error).message}</p> : null}
      {items && items.length === 0 && <p className="muted">No deployment is running and none failed recently.</p>}
      <ul>
        {items?.map((d) => (
          <li key={d.id}>
            <Link to={`/deployments/${d.id}`}>{deploymentTitle(d)}</Link> <DeploymentStatus deployment={d} /> <span className="muted">· started {formatDate(d.createdAt)}</span>
          </li>
        ))}
      </ul>
      <Link to="/deployments?status=failed">All failed deployments</Link>
    </section>
  );
}
