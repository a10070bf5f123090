/** One customer: its sites, and a form to add a site (agent sites get their token once). */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Page } from "../api/types";
import { Link } from "../router";
import { hasRole, useMe } from "../session";
import { CopyButton, ErrorAlert, Loading, PageHeader } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorStack } from "../components/Pager";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";
import { SITE_WRITERS, parseVariables, type Customer } from "./CustomersPage";
import { AgentStatus, type Site } from "./SitePage";

export function CustomerPage({ name }: { name: string }) {
  const me = useMe();
  const customer = useResource((signal) => api.get<Customer>(`/customers/${encodeURIComponent(name)}`, { signal }), [name]);
  const stack = useCursorStack(name);
  const sites = useResource((signal) => api.get<Page<Site>>("/sites", { query: { customer: name, cursor: stack.cursor, limit: 50 }, signal }), [name, stack.cursor]);

  if (customer.loading && !customer.data) return <Loading />;
  if (!customer.data) return <ErrorAlert error={customer.error} />;
  const c = customer.data;

  return (
    <>
      <p>
        <Link to="/customers">← Customers</Link>
      </p>
      <PageHeader title={c.displayName ?? c.name} description={c.displayName ? c.name : undefined} />
      <DataTable
        labelledBy="sites-heading"
        header={
          <h2 id="sites-heading" style={{ padding: "16px 16px 0" }}>
            Sites
          </h2>
        }
        rows={sites.data?.items}
        rowKey={(s) => s.id}
        loading={sites.loading}
        error={sites.error}
        empty="No sites yet."
        paging={{ kind: "pages", stack, nextCursor: sites.data?.nextCursor, label: "Pages of sites" }}
        columns={[
          { header: "Site", cell: (s) => <Link to={`/sites/${s.id}`}>{s.name}</Link> },
          { header: "Environment", cell: (s) => s.environment },
          { header: "Platform", cell: (s) => s.platform },
          {
            header: "Connectivity",
            cell: (s) => (
              <>
                {s.connectivity} <AgentStatus site={s} />
              </>
            ),
          },
          { header: "Installed", cell: (s) => (s.installed ? `${s.installed.product} ${s.installed.version}` : <span className="muted">nothing recorded</span>) },
        ]}
      />
      {hasRole(me, SITE_WRITERS) && <NewSiteForm customer={c.name} onCreated={sites.reload} />}
    </>
  );
}

function NewSiteForm({ customer, onCreated }: { customer: string; onCreated(): void }) {
  const { notify } = useToast();
  const [form, setForm] = useState({ name: "", environment: "production", platform: "vm", connectivity: "agent", variables: "", secrets: "" });
  const [ssh, setSsh] = useState({ host: "", port: "22", user: "", privateKey: "" });
  const [error, setError] = useState<unknown>();
  const [agentToken, setAgentToken] = useState<string>();

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const body = {
        name: form.name.trim(),
        environment: form.environment.trim(),
        platform: form.platform,
        connectivity: form.connectivity,
        variables: parseVariables(form.variables),
        secretVariables: parseVariables(form.secrets),
        ...(form.connectivity === "ssh" ? { ssh: { host: ssh.host.trim(), port: Number(ssh.port), user: ssh.user.trim(), privateKey: ssh.privateKey } } : {}),
      };
      const created = await api.post<Site & { agentToken?: string }>(`/customers/${encodeURIComponent(customer)}/sites`, body);
      notify(`Created site ${created.name}`);
      setAgentToken(created.agentToken);
      setForm({ ...form, name: "", variables: "", secrets: "" });
      setSsh({ host: "", port: "22", user: "", privateKey: "" });
      onCreated();
    } catch (err) {
      setError(err);
    }
  };

  const set = (key: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [key]: e.target.value });

  return (
    <form className="card" onSubmit={submit} aria-labelledby="new-site-heading">
      <h2 id="new-site-heading">New site</h2>
      {agentToken && (
        <div className="stack" style={{ marginBottom: 16 }}>
          <div className="alert info">The agent token is shown only once: give it to the site's ferry-agent now.</div>
          <div className="secret">
            <code data-testid="agent-token">{agentToken}</code>
            <CopyButton text={agentToken} />
          </div>
        </div>
      )}
      <ErrorAlert error={error} />
      <div className="filters">
        <div className="field">
          <label htmlFor="s-name">Name</label>
          <input id="s-name" type="text" required value={form.name} onChange={set("name")} />
        </div>
        <div className="field">
          <label htmlFor="s-env">Environment</label>
          <input id="s-env" type="text" required value={form.environment} onChange={set("environment")} />
        </div>
        <div className="field">
          <label htmlFor="s-platform">Platform</label>
          <select id="s-platform" value={form.platform} onChange={set("platform")}>
            <option value="vm">vm</option>
            <option value="k8s">k8s</option>
            <option value="docker">docker</option>
          </select>
        </div>
        <div className="field">
          <label htmlFor="s-conn">Connectivity</label>
          <select id="s-conn" value={form.connectivity} onChange={set("connectivity")}>
            <option value="agent">agent (the site calls in)</option>
            <option value="ssh">ssh (the server connects)</option>
            <option value="offline">offline (bundles on removable media)</option>
          </select>
        </div>
      </div>
      {form.connectivity === "ssh" && (
        <fieldset style={{ marginTop: 16 }}>
          <legend>SSH</legend>
          <div className="filters">
            <div className="field">
              <label htmlFor="ssh-host">Host</label>
              <input id="ssh-host" type="text" required value={ssh.host} onChange={(e) => setSsh({ ...ssh, host: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="ssh-port">Port</label>
              <input id="ssh-port" type="number" min={1} max={65535} value={ssh.port} onChange={(e) => setSsh({ ...ssh, port: e.target.value })} />
            </div>
            <div className="field">
              <label htmlFor="ssh-user">User</label>
              <input id="ssh-user" type="text" required value={ssh.user} onChange={(e) => setSsh({ ...ssh, user: e.target.value })} />
            </div>
          </div>
          <div className="field" style={{ marginTop: 12 }}>
            <label htmlFor="ssh-key">Private key (write-only, encrypted at rest)</label>
            <textarea id="ssh-key" className="mono" required value={ssh.privateKey} onChange={(e) => setSsh({ ...ssh, privateKey: e.target.value })} />
          </div>
        </fieldset>
      )}
      <div className="grid-2" style={{ marginTop: 16 }}>
        <div className="field">
          <label htmlFor="s-vars">Variables</label>
          <textarea id="s-vars" className="mono" value={form.variables} onChange={set("variables")} placeholder="DB_HOST=db.internal" aria-describedby="s-vars-hint" />
          <span id="s-vars-hint" className="hint">
            One KEY=value per line.
          </span>
        </div>
        <div className="field">
          <label htmlFor="s-secrets">Secret variables</label>
          <textarea id="s-secrets" className="mono" value={form.secrets} onChange={set("secrets")} placeholder="DB_PASSWORD=…" aria-describedby="s-secrets-hint" />
          <span id="s-secrets-hint" className="hint">
            Write-only: encrypted at rest, never shown again.
          </span>
        </div>
      </div>
      <button type="submit" className="btn primary" disabled={!form.name.trim()}>
        Create site
      </button>
    </form>
  );
}
