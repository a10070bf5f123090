/**
 * The bundle builder: pick a site, a sealed target release, full or incremental, and
 * services; preview the plan (dependencies added and shown); build.
 */
import { useState, type FormEvent } from "react";
import { api } from "../../api/client";
import type { Page } from "../../api/types";
import { useRouter } from "../../router";
import { ErrorAlert, PageHeader } from "../../components/ui";
import { useResource } from "../../components/useResource";
import type { Customer } from "../CustomersPage";
import type { ReleaseSummary } from "../ReleasesPage";
import type { Site } from "../SitePage";
import { BaseReleaseField, ServicesField } from "./ContentsFields";
import { PlanView, type BundlePlan } from "./PlanView";
import type { Bundle } from "./BundlePage";

export function BundleBuilderPage() {
  const { navigate } = useRouter();
  const [customer, setCustomer] = useState("");
  const [siteId, setSiteId] = useState("");
  const [release, setRelease] = useState("");
  const [mode, setMode] = useState("installed");
  const [fromVersion, setFromVersion] = useState("");
  const [picked, setPicked] = useState<string[]>([]);
  const [format, setFormat] = useState("tar");
  const [partMiB, setPartMiB] = useState("");
  const [plan, setPlan] = useState<BundlePlan>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const customers = useResource((signal) => api.get<Page<Customer>>("/customers", { query: { limit: 500 }, signal }), []);
  const sites = useResource(
    (signal) => (customer ? api.get<Page<Site>>("/sites", { query: { customer, limit: 500 }, signal }) : Promise.resolve(undefined)),
    [customer],
  );
  const releases = useResource((signal) => api.get<Page<ReleaseSummary>>("/releases", { query: { status: "sealed", limit: 200 }, signal }), []);

  const target = releases.data?.items.find((r) => `${r.product}@${r.version}` === release);
  const site = sites.data?.items.find((s) => s.id === siteId);
  const sameProduct = releases.data?.items.filter((r) => target && r.product === target.product && r.version !== target.version) ?? [];
  const from = mode === "full" ? undefined : mode === "installed" ? "installed" : fromVersion || undefined;

  const reset = () => {
    setPlan(undefined);
    setError(undefined);
  };

  const preview = async () => {
    if (!target || !siteId) return;
    setBusy(true);
    reset();
    try {
      const query = { product: target.product, version: target.version, from: from ?? "none", components: picked.length ? picked.join(",") : undefined };
      setPlan(await api.get<BundlePlan>(`/sites/${encodeURIComponent(siteId)}/plan`, { query }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const build = async (event: FormEvent) => {
    event.preventDefault();
    if (!target || !siteId) return;
    setBusy(true);
    setError(undefined);
    try {
      const body = {
        site: siteId,
        release: { product: target.product, version: target.version },
        ...(from ? { from } : {}),
        ...(picked.length ? { components: picked } : {}),
        format,
        ...(partMiB ? { maxPartSize: Math.round(Number(partMiB) * 1024 * 1024) } : {}),
      };
      const bundle = await api.post<Bundle>("/bundles", body);
      navigate(`/bundles/${bundle.id}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="Build a bundle" description="A signed tar for one site and one sealed release, full or incremental from what the site runs." />
      <form className="card" onSubmit={build} aria-labelledby="builder-heading">
        <h2 id="builder-heading" className="visually-hidden">
          Bundle settings
        </h2>
        <div className="filters">
          <div className="field">
            <label htmlFor="b-customer">Customer</label>
            <select id="b-customer" value={customer} onChange={(e) => (setCustomer(e.target.value), setSiteId(""), reset())}>
              <option value="">Pick a customer…</option>
              {customers.data?.items.map((c) => (
                <option key={c.id} value={c.name}>
                  {c.displayName ?? c.name}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="b-site">Site</label>
            <select id="b-site" value={siteId} onChange={(e) => (setSiteId(e.target.value), reset())} disabled={!customer}>
              <option value="">Pick a site…</option>
              {sites.data?.items.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} ({s.environment}){s.installed ? ` · runs ${s.installed.product} ${s.installed.version}` : ""}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="b-release">Target release</label>
            <select id="b-release" value={release} onChange={(e) => (setRelease(e.target.value), setPicked([]), reset())}>
              <option value="">Pick a sealed release…</option>
              {releases.data?.items.map((r) => (
                <option key={`${r.product}@${r.version}`} value={`${r.product}@${r.version}`}>
                  {r.product} {r.version}
                </option>
              ))}
            </select>
          </div>
        </div>

        <fieldset style={{ marginTop: 16 }}>
          <legend>Contents</legend>
          <div className="checks">
            <label>
              <input type="radio" name="mode" value="installed" checked={mode === "installed"} onChange={() => (setMode("installed"), reset())} />
              Incremental from what the site runs{site?.installed ? ` (${site.installed.product} ${site.installed.version})` : ""}
            </label>
            <label>
              <input type="radio" name="mode" value="version" checked={mode === "version"} onChange={() => (setMode("version"), reset())} />
              Incremental from a release
            </label>
            <label>
              <input type="radio" name="mode" value="full" checked={mode === "full"} onChange={() => (setMode("full"), reset())} />
              Full
            </label>
          </div>
          {mode === "version" && <BaseReleaseField id="b-from" releases={sameProduct} value={fromVersion} onChange={(version) => (setFromVersion(version), reset())} />}
        </fieldset>

        {target && <ServicesField release={target} picked={picked} onChange={(next) => (setPicked(next), reset())} />}

        <div className="filters">
          <div className="field">
            <label htmlFor="b-format">Format</label>
            <select id="b-format" value={format} onChange={(e) => setFormat(e.target.value)}>
              <option value="tar">tar</option>
              <option value="tar.gz">tar.gz</option>
            </select>
          </div>
          <div className="field">
            <label htmlFor="b-parts">Split into parts of (MiB)</label>
            <input id="b-parts" type="number" min={1} value={partMiB} onChange={(e) => setPartMiB(e.target.value)} aria-describedby="b-parts-hint" />
            <span id="b-parts-hint" className="hint">
              Optional, for removable media.
            </span>
          </div>
        </div>

        <ErrorAlert error={error} />
        <div className="row" style={{ marginTop: 16 }}>
          <button type="button" className="btn" onClick={preview} disabled={busy || !target || !siteId}>
            Preview plan
          </button>
          <button type="submit" className="btn primary" disabled={busy || !target || !siteId}>
            Build bundle
          </button>
        </div>
      </form>
      {plan && <PlanView plan={plan} />}
    </>
  );
}
