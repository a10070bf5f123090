/** A site: installed release, agent status, variables (secrets write-only), and its history as a timeline. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { Link } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, CopyButton, ErrorAlert, Loading, PageHeader, formatDate } from "../components/ui";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";
import { SITE_WRITERS, parseVariables } from "./CustomersPage";
import { releaseHref } from "./ReleasesPage";
import { DEPLOYERS } from "./deployments/types";

export interface Site {
  id: string;
  customer: string;
  name: string;
  environment: string;
  platform: string;
  connectivity: "agent" | "ssh" | "offline";
  variables: Record<string, string>;
  secretVariables: string[];
  ssh: { host: string; port: number; user: string; hosts: string[]; hasPrivateKey: boolean } | null;
  installed: { product: string; version: string | null; components: Array<{ name: string; version: string }> } | null;
  agent: { hasToken: boolean; version: string | null; lastSeenAt: string | null; online: boolean } | null;
  createdAt: string;
}

interface SiteDetail extends Site {
  inventory: unknown;
  history: Array<{ id: string; kind: string; product: string | null; version: string | null; deploymentId: string | null; actor: string; details: unknown; at: string }>;
}

export function AgentStatus({ site }: { site: Site }) {
  if (!site.agent) return null;
  if (site.agent.online) return <Badge tone="ok">online</Badge>;
  return <Badge tone={site.agent.lastSeenAt ? "warn" : undefined}>{site.agent.lastSeenAt ? "offline" : "never seen"}</Badge>;
}

export function SitePage({ id }: { id: string }) {
  const me = useMe();
  const { notify } = useToast();
  const site = useResource((signal) => api.get<SiteDetail>(`/sites/${encodeURIComponent(id)}`, { signal }), [id]);
  const [vars, setVars] = useState("");
  const [secrets, setSecrets] = useState("");
  const [remove, setRemove] = useState("");
  const [installed, setInstalled] = useState({ product: "", version: "" });
  const [error, setError] = useState<unknown>();
  const [agentToken, setAgentToken] = useState<string>();

  if (site.loading && !site.data) return <Loading />;
  if (!site.data) return <ErrorAlert error={site.error} />;
  const s = site.data;
  const canEdit = hasRole(me, SITE_WRITERS);

  const saveVariables = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const removed = Object.fromEntries(
        remove
          .split(/[\s,]+/)
          .filter(Boolean)
          .map((key) => [key, null]),
      );
      const variables = { ...parseVariables(vars), ...Object.fromEntries(Object.keys(removed).filter((k) => k in s.variables).map((k) => [k, null])) };
      const secretVariables = { ...parseVariables(secrets), ...Object.fromEntries(Object.keys(removed).filter((k) => s.secretVariables.includes(k)).map((k) => [k, null])) };
      await api.patch(`/sites/${encodeURIComponent(id)}`, {
        ...(Object.keys(variables).length ? { variables } : {}),
        ...(Object.keys(secretVariables).length ? { secretVariables } : {}),
      });
      notify("Variables saved");
      setVars("");
      setSecrets("");
      setRemove("");
      site.reload();
    } catch (err) {
      setError(err);
    }
  };

  const recordInstalled = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api.post(`/sites/${encodeURIComponent(id)}/installed`, { product: installed.product.trim(), version: installed.version.trim() });
      notify(`Recorded ${installed.product} ${installed.version} as installed`);
      site.reload();
    } catch (err) {
      setError(err);
    }
  };

  const rotateToken = async () => {
    if (!window.confirm("Issue a new agent token? The current one stops working at once.")) return;
    try {
      const result = await api.post<{ agentToken: string }>(`/sites/${encodeURIComponent(id)}/agent-token`);
      setAgentToken(result.agentToken);
    } catch (err) {
      notify((err as Error).message, "error");
    }
  };

  return (
    <>
      <p>
        <Link to={`/customers/${encodeURIComponent(s.customer)}`}>← {s.customer}</Link>
      </p>
      <PageHeader
        title={`${s.customer} / ${s.name}`}
        description={`${s.environment} · ${s.platform} · ${s.connectivity}`}
        actions={
          <>
            <Link to={`/deployments?site=${encodeURIComponent(s.id)}`} className="btn">
              Deployments
            </Link>
            {s.connectivity !== "offline" && hasRole(me, DEPLOYERS) && (
              <Link to={`/deployments/new?site=${encodeURIComponent(s.id)}`} className="btn primary">
                Start deployment
              </Link>
            )}
          </>
        }
      />
      <ErrorAlert error={error} />
      <div className="grid-2">
        <section className="card" aria-labelledby="state-heading">
          <h2 id="state-heading">Installed</h2>
          {s.installed ? (
            <p>
              <Link to={releaseHref({ product: s.installed.product, version: s.installed.version ?? "" })}>
                {s.installed.product} {s.installed.version}
              </Link>
            </p>
          ) : (
            <p className="muted">Nothing recorded yet.</p>
          )}
          {s.installed && s.installed.components.length > 0 && (
            <ul>
              {s.installed.components.map((c) => (
                <li key={c.name}>
                  {c.name} {c.version}
                </li>
              ))}
            </ul>
          )}
          {canEdit && (
            <form className="row" onSubmit={recordInstalled} style={{ marginTop: 12 }} aria-label="Record installed release">
              <label htmlFor="inst-product" className="visually-hidden">
                Product
              </label>
              <input id="inst-product" type="text" placeholder="product" value={installed.product} onChange={(e) => setInstalled({ ...installed, product: e.target.value })} style={{ maxWidth: 160 }} />
              <label htmlFor="inst-version" className="visually-hidden">
                Version
              </label>
              <input id="inst-version" type="text" placeholder="version" value={installed.version} onChange={(e) => setInstalled({ ...installed, version: e.target.value })} style={{ maxWidth: 120 }} />
              <button type="submit" className="btn small" disabled={!installed.product || !installed.version}>
                Record as installed
              </button>
            </form>
          )}
          {s.agent && (
            <>
              <h3 style={{ marginTop: 20 }}>Agent</h3>
              <p>
                <AgentStatus site={s} /> {s.agent.version && <span className="muted">ferry-agent {s.agent.version}</span>}{" "}
                <span className="muted">last seen {formatDate(s.agent.lastSeenAt)}</span>
              </p>
              {hasRole(me, ["operator", "admin"]) && (
                <button type="button" className="btn small" onClick={rotateToken}>
                  Issue new agent token
                </button>
              )}
              {agentToken && (
                <div className="secret" style={{ marginTop: 12 }}>
                  <code>{agentToken}</code>
                  <CopyButton text={agentToken} />
                </div>
              )}
            </>
          )}
          {s.ssh && (
            <>
              <h3 style={{ marginTop: 20 }}>SSH</h3>
              <p>
                {s.ssh.user}@{s.ssh.host}:{s.ssh.port} {s.ssh.hasPrivateKey && <Badge tone="ok">key stored</Badge>}
              </p>
            </>
          )}
        </section>

        <section className="card" aria-labelledby="history-heading">
          <h2 id="history-heading">History</h2>
          {s.history.length === 0 ? (
            <p className="muted">No events yet.</p>
          ) : (
            <ol className="timeline" aria-label="Site history">
              {s.history.map((e) => (
                <li key={e.id}>
                  <strong>{e.kind.replace(/[._]/g, " ")}</strong>
                  {e.product && (
                    <>
                      {" "}
                      {e.product} {e.version}
                    </>
                  )}
                  <div className="when">
                    {formatDate(e.at)} · {e.actor}
                  </div>
                </li>
              ))}
            </ol>
          )}
        </section>
      </div>

      <section className="card" aria-labelledby="vars-heading">
        <h2 id="vars-heading">Variables</h2>
        <dl className="facts">
          {Object.entries(s.variables).map(([k, v]) => (
            <FragmentRow key={k} name={k} value={<code>{v}</code>} />
          ))}
          {s.secretVariables.map((k) => (
            <FragmentRow key={k} name={k} value={<Badge>secret · write-only</Badge>} />
          ))}
        </dl>
        {Object.keys(s.variables).length + s.secretVariables.length === 0 && <p className="muted">No variables.</p>}
        {canEdit && (
          <form onSubmit={saveVariables} style={{ marginTop: 16 }}>
            <div className="grid-2">
              <div className="field">
                <label htmlFor="v-set">Set variables (KEY=value per line)</label>
                <textarea id="v-set" className="mono" value={vars} onChange={(e) => setVars(e.target.value)} />
              </div>
              <div className="field">
                <label htmlFor="v-secret">Set secret variables (KEY=value per line)</label>
                <textarea id="v-secret" className="mono" value={secrets} onChange={(e) => setSecrets(e.target.value)} />
              </div>
            </div>
            <div className="field">
              <label htmlFor="v-remove">Delete variables (names, separated by spaces)</label>
              <input id="v-remove" type="text" value={remove} onChange={(e) => setRemove(e.target.value)} />
            </div>
            <button type="submit" className="btn primary" disabled={!vars.trim() && !secrets.trim() && !remove.trim()}>
              Save variables
            </button>
          </form>
        )}
      </section>
    </>
  );
}

function FragmentRow({ name, value }: { name: string; value: React.ReactNode }) {
  return (
    <>
      <dt>
        <code>{name}</code>
      </dt>
      <dd>{value}</dd>
    </>
  );
}
