/** The service catalog: components in dependency order, one component's descriptor, and reload (admin). */
import { useState } from "react";
import { api, ApiError } from "../api/client";
import { Link } from "../router";
import { hasRole, useMe } from "../session";
import { Badge, ErrorAlert, Loading, PageHeader, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";

interface ComponentSummary {
  name: string;
  description?: string;
  platforms: string[];
  dependsOn: string[];
  ports?: unknown;
  databases: Array<{ database: string; dialect: string }>;
  pipelines: string[];
}

interface Problem {
  file: string;
  line?: number;
  message: string;
}

interface CatalogList {
  items: ComponentSummary[];
  loadedAt: string | null;
  valid: boolean;
  problems: Problem[];
}

function Problems({ problems }: { problems: Problem[] }) {
  return (
    <ul className="alert error" role="alert" style={{ paddingLeft: 32 }}>
      {problems.map((p, i) => (
        <li key={i}>
          <code>
            {p.file}
            {p.line ? `:${p.line}` : ""}
          </code>{" "}
          {p.message}
        </li>
      ))}
    </ul>
  );
}

export function CatalogPage() {
  const me = useMe();
  const { notify } = useToast();
  const catalog = useResource((signal) => api.get<CatalogList>("/catalog", { signal }), []);
  const [reloadProblems, setReloadProblems] = useState<Problem[]>();
  const [busy, setBusy] = useState(false);

  const reload = async () => {
    setBusy(true);
    setReloadProblems(undefined);
    try {
      await api.post("/catalog/reload");
      notify("Catalog reloaded");
      catalog.reload();
    } catch (error) {
      const details = error instanceof ApiError ? (error.details as { problems?: Problem[] } | undefined) : undefined;
      if (details?.problems?.length) setReloadProblems(details.problems);
      notify((error as Error).message, "error");
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader
        title="Catalog"
        description="Services, their dependencies, artifacts, SQL databases and pipelines, from catalog/<name>/service.yml."
        actions={
          hasRole(me, ["admin"]) && (
            <button type="button" className="btn" onClick={reload} disabled={busy}>
              Reload from disk
            </button>
          )
        }
      />
      <ErrorAlert error={catalog.error} />
      {reloadProblems && <Problems problems={reloadProblems} />}
      {catalog.data && !catalog.data.valid && <Problems problems={catalog.data.problems} />}
      {catalog.data?.loadedAt && <p className="muted">Loaded {formatDate(catalog.data.loadedAt)}. Listed in dependency order.</p>}
      <DataTable
        label="Components"
        rows={catalog.data?.items}
        rowKey={(c) => c.name}
        loading={catalog.loading}
        empty="The catalog is empty."
        columns={[
          {
            header: "Component",
            cell: (c) => (
              <>
                <Link to={`/catalog/${encodeURIComponent(c.name)}`}>{c.name}</Link>
                {c.description && <div className="muted">{c.description}</div>}
              </>
            ),
          },
          { header: "Depends on", cell: (c) => (c.dependsOn.length ? c.dependsOn.join(", ") : <span className="muted">—</span>) },
          {
            header: "Platforms",
            cell: (c) =>
              c.platforms.map((p) => (
                <Badge key={p}>{p}</Badge>
              )),
          },
          { header: "Databases", cell: (c) => c.databases.map((d) => `${d.database} (${d.dialect})`).join(", ") || <span className="muted">—</span> },
          { header: "Pipelines", cell: (c) => c.pipelines.join(", ") },
        ]}
      />
    </>
  );
}

interface ComponentDetail extends ComponentSummary {
  artifacts: unknown;
  sql: unknown;
  config: unknown;
  chart: unknown;
  variables: unknown;
  pipelines: string[] & Record<string, unknown>;
  file: string;
}

export function CatalogComponentPage({ name }: { name: string }) {
  const component = useResource((signal) => api.get<ComponentDetail>(`/catalog/${encodeURIComponent(name)}`, { signal }), [name]);
  if (component.loading && !component.data) return <Loading />;
  if (!component.data) return <ErrorAlert error={component.error} />;
  const c = component.data;
  const sections: Array<[string, unknown]> = [
    ["Artifacts", c.artifacts],
    ["Variables", c.variables],
    ["SQL", c.sql],
    ["Configuration templates", c.config],
    ["Chart", c.chart],
    ["Pipelines", c.pipelines],
  ];
  return (
    <>
      <p>
        <Link to="/catalog">← Catalog</Link>
      </p>
      <PageHeader title={c.name} description={c.description} />
      <p className="muted">
        From <code>{c.file}</code>
        {c.dependsOn.length > 0 && <> · depends on {c.dependsOn.join(", ")}</>}
      </p>
      {sections
        .filter(([, value]) => value !== null && value !== undefined && !(Array.isArray(value) && value.length === 0))
        .map(([title, value]) => (
          <section className="card" key={title} aria-label={title}>
            <h2>{title}</h2>
            <pre className="code" tabIndex={0}>
              {JSON.stringify(value, null, 2)}
            </pre>
          </section>
        ))}
    </>
  );
}
