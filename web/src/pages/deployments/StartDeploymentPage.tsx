/**
 * Start a deployment to one site: pick a sealed release. Whether it is an install, an
 * upgrade or a rollback is the server's call (from what the site runs); the deployment
 * page it leads to shows which.
 */
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Link, useRouter, useSearchParams } from "../../router";
import { ErrorAlert, Loading, PageHeader } from "../../components/ui";
import { useResource } from "../../components/useResource";
import { useToast } from "../../components/toasts";
import type { ReleaseSummary } from "../ReleasesPage";
import type { Site } from "../SitePage";
import { deploymentTitle, type Deployment } from "./types";

export function StartDeploymentPage() {
  const [params] = useSearchParams();
  const siteId = params.get("site") ?? "";
  const { navigate } = useRouter();
  const { notify } = useToast();
  const site = useResource((signal) => (siteId ? api.get<Site>(`/sites/${encodeURIComponent(siteId)}`, { signal }) : Promise.reject(new Error("Open this page from a site."))), [siteId]);
  const releases = useResource((signal) => api.get<Page<ReleaseSummary>>("/releases", { query: { status: "sealed", limit: 200 }, signal }), []);
  const [choice, setChoice] = useState("");
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>();

  if (site.loading && !site.data) return <Loading />;
  if (!site.data) return <ErrorAlert error={site.error} />;
  const s = site.data;
  // The site's own product first: that is what is normally deployed to it.
  const sealed = [...(releases.data?.items ?? [])].sort((a, b) => Number(b.product === s.installed?.product) - Number(a.product === s.installed?.product));

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const release = sealed.find((r) => `${r.product}@${r.version}` === choice);
    if (!release) return;
    setSubmitting(true);
    setError(undefined);
    try {
      const started = await api.post<Deployment>("/deployments", { site: s.id, release: { product: release.product, version: release.version } });
      notify(`${deploymentTitle(started)} started on ${s.name}`);
      navigate(`/deployments/${started.id}`);
    } catch (err) {
      setError(err);
      setSubmitting(false);
    }
  };

  return (
    <>
      <p>
        <Link to={`/sites/${encodeURIComponent(s.id)}`}>
          ← {s.customer} / {s.name}
        </Link>
      </p>
      <PageHeader title={`Deploy to ${s.customer} / ${s.name}`} description={`${s.environment} · ${s.connectivity} · runs ${s.installed ? `${s.installed.product} ${s.installed.version}` : "nothing recorded"}`} />
      <ErrorAlert error={error ?? releases.error} />
      <section className="card" aria-labelledby="start-heading">
        <h2 id="start-heading">Release</h2>
        {s.connectivity === "offline" ? (
          <p>
            This site is offline: build a bundle for it on the <Link to="/bundles/new">bundle builder</Link> and import the agent's report afterwards.
          </p>
        ) : (
          <form onSubmit={submit}>
            <div className="field">
              <label htmlFor="deploy-release">Sealed release</label>
              <select id="deploy-release" value={choice} onChange={(e) => setChoice(e.target.value)} required style={{ maxWidth: 360 }}>
                <option value="">Choose a release…</option>
                {sealed.map((r) => (
                  <option key={`${r.product}@${r.version}`} value={`${r.product}@${r.version}`}>
                    {r.product} {r.version}
                    {s.installed?.product === r.product && s.installed.version === r.version ? " (installed)" : ""}
                  </option>
                ))}
              </select>
              <p className="hint">Install, upgrade or rollback follows from what the site runs now.</p>
            </div>
            <button type="submit" className="btn primary" disabled={!choice || submitting}>
              {submitting ? "Starting…" : "Start deployment"}
            </button>
          </form>
        )}
      </section>
    </>
  );
}
