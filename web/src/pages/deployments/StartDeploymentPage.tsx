/**
 * Start a deployment to one site: pick a sealed release and, optionally, the bundle's base
 * (`from`: what the site runs, or a release of the same product) and a subset of services
 * (`components`; their dependencies are added). Whether it is an install, an upgrade or a
 * rollback is the server's call (from what the site runs); the plan preview and the
 * deployment page it leads to show which.
 */
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { Link, useRouter, useSearchParams } from "../../router";
import { ErrorAlert, Loading, PageHeader } from "../../components/ui";
import { useResource } from "../../components/useResource";
import { useToast } from "../../components/toasts";
import { BaseReleaseField, ServicesField } from "../bundles/ContentsFields";
import { PlanView, type BundlePlan } from "../bundles/PlanView";
import type { ReleaseSummary } from "../ReleasesPage";
import type { Site } from "../SitePage";
import { deploymentTitle, type Deployment } from "./types";

type BaseMode = "default" | "installed" | "version";

export function StartDeploymentPage() {
  const [params] = useSearchParams();
  const siteId = params.get("site") ?? "";
  const { navigate } = useRouter();
  const { notify } = useToast();
  const site = useResource((signal) => (siteId ? api.get<Site>(`/sites/${encodeURIComponent(siteId)}`, { signal }) : Promise.reject(new Error("Open this page from a site."))), [siteId]);
  const releases = useResource((signal) => api.get<Page<ReleaseSummary>>("/releases", { query: { status: "sealed", limit: 200 }, signal }), []);
  const [choice, setChoice] = useState("");
  const [baseMode, setBaseMode] = useState<BaseMode>("default");
  const [fromVersion, setFromVersion] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [plan, setPlan] = useState<BundlePlan>();
  const [busy, setBusy] = useState(false);
  const [submitting, setSubmitting] = useState(false);
  const [error, setError] = useState<unknown>();

  if (site.loading && !site.data) return <Loading />;
  if (!site.data) return <ErrorAlert error={site.error} />;
  const s = site.data;
  // The site's own product first: that is what is normally deployed to it.
  const sealed = [...(releases.data?.items ?? [])].sort((a, b) => Number(b.product === s.installed?.product) - Number(a.product === s.installed?.product));
  const release = sealed.find((r) => `${r.product}@${r.version}` === choice);
  const sameProduct = sealed.filter((r) => release && r.product === release.product && r.version !== release.version);
  const from = baseMode === "installed" ? "installed" : baseMode === "version" ? fromVersion || undefined : undefined;
  const incomplete = !release || (baseMode === "version" && !fromVersion);

  const changed = () => {
    setPlan(undefined);
    setError(undefined);
  };

  const preview = async () => {
    if (!release) return;
    setBusy(true);
    changed();
    try {
      const query = { product: release.product, version: release.version, from, components: picked.length ? picked.join(",") : undefined };
      setPlan(await api.get<BundlePlan>(`/sites/${encodeURIComponent(s.id)}/plan`, { query }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!release) return;
    setBusy(true);
    setSubmitting(true);
    setError(undefined);
    try {
      const body = {
        site: s.id,
        release: { product: release.product, version: release.version },
        ...(from ? { from } : {}),
        ...(picked.length ? { components: picked } : {}),
      };
      const started = await api.post<Deployment>("/deployments", body);
      notify(`${deploymentTitle(started)} started on ${s.name}`);
      navigate(`/deployments/${started.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
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
      <ErrorAlert error={releases.error} />
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
              <select id="deploy-release" value={choice} onChange={(e) => (setChoice(e.target.value), setPicked([]), setFromVersion(""), changed())} required style={{ maxWidth: 360 }}>
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

            <fieldset>
              <legend>Bundle base</legend>
              <div className="checks">
                <label>
                  <input type="radio" name="base" value="default" checked={baseMode === "default"} onChange={() => (setBaseMode("default"), changed())} />
                  Ferry decides (incremental from what the site runs for an upgrade, full otherwise)
                </label>
                <label>
                  <input type="radio" name="base" value="installed" checked={baseMode === "installed"} onChange={() => (setBaseMode("installed"), changed())} />
                  Incremental from what the site runs{s.installed?.version ? ` (${s.installed.product} ${s.installed.version})` : ""}
                </label>
                <label>
                  <input type="radio" name="base" value="version" checked={baseMode === "version"} onChange={() => (setBaseMode("version"), changed())} />
                  Incremental from a release
                </label>
              </div>
              {baseMode === "version" && (
                <BaseReleaseField
                  id="deploy-from"
                  releases={sameProduct}
                  value={fromVersion}
                  onChange={(version) => (setFromVersion(version), changed())}
                  disabled={!release}
                  placeholder={release ? "Pick a base…" : "Choose a release first"}
                />
              )}
            </fieldset>

            {release && (
              <ServicesField release={release} picked={picked} onChange={(next) => (setPicked(next), changed())} name="components" hint="Services they depend on are added." />
            )}

            <ErrorAlert error={error} />
            <div className="row" style={{ marginTop: 16 }}>
              <button type="button" className="btn" onClick={preview} disabled={busy || incomplete}>
                Preview plan
              </button>
              <button type="submit" className="btn primary" disabled={busy || incomplete}>
                {submitting ? "Starting…" : "Start deployment"}
              </button>
            </div>
          </form>
        )}
      </section>
      {plan && <PlanView plan={plan} />}
    </>
  );
}
