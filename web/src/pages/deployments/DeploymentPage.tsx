/** One deployment: status, the step list, the live log and, for operators, cancel. */
import { useCallback, useEffect, useState } from "react";
import { api } from "../../api/client";
import { Link } from "../../router";
import { hasRole, useMe } from "../../session";
import { Badge, ErrorAlert, Loading, PageHeader, StatusBadge, formatDate } from "../../components/ui";
import { useToast } from "../../components/toasts";
import { releaseHref } from "../ReleasesPage";
import type { Site } from "../SitePage";
import { DeploymentLog } from "./DeploymentLog";
import { StalledBadge, StalledSince } from "./DeploymentStatus";
import { DEPLOYERS, deploymentTitle, isActive, isStalled, type Deployment } from "./types";

/** Steps are not in the log stream, so an active deployment is re-read at this pace. */
const POLL_MS = 1_000;

export function DeploymentPage({ id }: { id: string }) {
  const me = useMe();
  const { notify } = useToast();
  const [deployment, setDeployment] = useState<Deployment>();
  const [site, setSite] = useState<Site>();
  const [error, setError] = useState<unknown>();
  const [cancelling, setCancelling] = useState(false);

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        setDeployment(await api.get<Deployment>(`/deployments/${encodeURIComponent(id)}`, { signal }));
        setError(undefined);
      } catch (err) {
        if (!signal?.aborted) setError(err);
      }
    },
    [id],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(controller.signal);
    return () => controller.abort();
  }, [load]);

  const active = deployment ? isActive(deployment.status) : false;
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(timer);
  }, [active, load]);

  const siteId = deployment?.site;
  useEffect(() => {
    if (!siteId) return;
    const controller = new AbortController();
    api
      .get<Site>(`/sites/${encodeURIComponent(siteId)}`, { signal: controller.signal })
      .then(setSite)
      .catch(() => undefined); // The site's name is a nicety; the id link still works.
    return () => controller.abort();
  }, [siteId]);

  if (!deployment) return error ? <ErrorAlert error={error} /> : <Loading />;
  const d = deployment;
  const steps = d.steps ?? [];
  const stalled = isStalled(d);

  const cancel = async () => {
    if (!window.confirm("Cancel this deployment? The agent stops at its next report.")) return;
    setCancelling(true);
    try {
      setDeployment(await api.post<Deployment>(`/deployments/${encodeURIComponent(d.id)}/cancel`));
      notify("Deployment cancelled");
    } catch (err) {
      notify((err as Error).message, "error");
    } finally {
      setCancelling(false);
    }
  };

  return (
    <>
      <p>
        <Link to="/deployments">← Deployments</Link>
      </p>
      <PageHeader
        title={deploymentTitle(d)}
        description={`Started by ${d.createdBy}, ${formatDate(d.createdAt)} · over ${d.transport}`}
        actions={
          active &&
          hasRole(me, DEPLOYERS) && (
            <button type="button" className="btn danger" onClick={cancel} disabled={cancelling}>
              {cancelling ? "Cancelling…" : "Cancel deployment"}
            </button>
          )
        }
      />
      <ErrorAlert error={error} />
      <div className="grid-2">
        <section className="card" aria-labelledby="status-heading">
          <h2 id="status-heading">
            Status{" "}
            <span data-testid="deployment-status">
              <StatusBadge status={d.status} />
              {stalled && (
                <>
                  {" "}
                  <StalledBadge />
                </>
              )}
            </span>
          </h2>
          {stalled && (
            <div className="alert warn" data-testid="deployment-stalled">
              <strong>Stalled</strong> — <StalledSince deployment={d} />. It stays running and goes on when the agent reports again; cancel it if the agent is not coming
              back.
            </div>
          )}
          {d.error && <div className="alert error">{d.error}</div>}
          <dl className="facts">
            <dt>Kind</dt>
            <dd>
              <Badge tone="info">{d.kind}</Badge>
            </dd>
            <dt>Site</dt>
            <dd>
              <Link to={`/sites/${encodeURIComponent(d.site)}`}>{site ? `${site.customer} / ${site.name}` : d.site}</Link>
            </dd>
            <dt>Release</dt>
            <dd>
              <Link to={releaseHref(d.release)}>
                {d.release.product} {d.release.version}
              </Link>
              {d.from && <span className="muted"> from {d.from}</span>}
            </dd>
            {d.components && (
              <>
                <dt>Components</dt>
                <dd>{d.components.join(", ")}</dd>
              </>
            )}
            <dt>Bundle</dt>
            <dd>{d.bundle ? <Link to={`/bundles/${encodeURIComponent(d.bundle)}`}>{d.bundle.slice(0, 8)}</Link> : <span className="muted">being prepared</span>}</dd>
            <dt>Started</dt>
            <dd>{formatDate(d.startedAt)}</dd>
            <dt>Finished</dt>
            <dd>{formatDate(d.finishedAt)}</dd>
            {d.transport === "agent" && (
              <>
                <dt>Last contact</dt>
                <dd>{d.lastContactAt ? formatDate(d.lastContactAt) : <span className="muted">not yet</span>}</dd>
              </>
            )}
          </dl>
        </section>
        <section className="card" aria-labelledby="steps-heading">
          <h2 id="steps-heading">Steps</h2>
          {steps.length === 0 ? (
            <p className="muted">{active ? "No step has started yet." : "No steps were reported."}</p>
          ) : (
            <ol className="step-list" aria-label="Deployment steps" data-testid="deployment-steps">
              {steps.map((s) => (
                <li key={s.seq}>
                  <span className="step-seq">{s.seq}</span>
                  <span className="step-name">
                    {s.name}
                    {s.component && <span className="muted"> · {s.component}</span>}
                    {s.message && <div className="muted">{s.message}</div>}
                  </span>
                  <StatusBadge status={s.status} />
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>
      <section className="card" aria-labelledby="log-heading">
        <h2 id="log-heading">Log</h2>
        <DeploymentLog id={d.id} onEnd={() => void load()} />
      </section>
    </>
  );
}
