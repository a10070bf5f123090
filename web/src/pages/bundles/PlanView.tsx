/** What a bundle or deployment to a release would do at a site (GET /sites/:id/plan). */
import { Badge, StatusBadge, formatBytes } from "../../components/ui";

interface ReleaseRef {
  product: string;
  version: string;
  digest: string;
}

export interface BundlePlan {
  site: { id: string; name: string; customer: string };
  release: ReleaseRef & { required: boolean };
  base: ReleaseRef | null;
  mode: "full" | "incremental";
  addedDependencies: string[];
  components: Array<{ name: string; version: string; fromVersion: string | null; action: "install" | "upgrade" | "remove" | "unchanged"; order: number }>;
  artifacts: Array<{ component: string; filename: string; size: number }>;
  sql: Array<{ database: string; dialect: string; scripts: Array<{ id: string; filename: string; component: string; release: string; status?: string }> }>;
  requiredReleases: ReleaseRef[];
  bytes: number;
}

const ACTION_TONE = { install: "ok", upgrade: "info", remove: "danger", unchanged: undefined } as const;

export function PlanView({ plan }: { plan: BundlePlan }) {
  return (
    <section className="card" aria-labelledby="plan-heading" data-testid="bundle-plan">
      <h2 id="plan-heading">
        Plan: {plan.mode} {plan.base ? `from ${plan.base.version} ` : ""}to {plan.release.product} {plan.release.version}
      </h2>
      <p className="muted">
        {plan.site.customer} / {plan.site.name} · {formatBytes(plan.bytes)} to ship in {plan.artifacts.length} file{plan.artifacts.length === 1 ? "" : "s"}
      </p>
      {plan.addedDependencies.length > 0 && (
        <div className="alert info">Added as dependencies of the services you picked: {plan.addedDependencies.join(", ")}.</div>
      )}
      {plan.requiredReleases.length > 0 && (
        <div className="alert info">Crosses required releases (their upgrades run in order): {plan.requiredReleases.map((r) => r.version).join(", ")}.</div>
      )}
      <div className="grid-2">
        <div>
          <h3>Services, in order</h3>
          <ol>
            {plan.components.map((c) => (
              <li key={c.name}>
                {c.name} {c.fromVersion && c.fromVersion !== c.version ? `${c.fromVersion} → ` : ""}
                {c.version} <Badge tone={ACTION_TONE[c.action]}>{c.action}</Badge>
                {plan.addedDependencies.includes(c.name) && <Badge>dependency</Badge>}
              </li>
            ))}
          </ol>
        </div>
        <div>
          <h3>SQL scripts per database</h3>
          {plan.sql.length === 0 && <p className="muted">None.</p>}
          {plan.sql.map((db) => (
            <div key={db.database}>
              <strong>{db.database}</strong> <span className="muted">({db.dialect})</span>
              <ol>
                {db.scripts.map((s) => (
                  <li key={s.id}>
                    {s.filename} <span className="muted">{s.component}</span> {s.status && <StatusBadge status={s.status} />}
                  </li>
                ))}
              </ol>
            </div>
          ))}
        </div>
      </div>
    </section>
  );
}
