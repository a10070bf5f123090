/** Two releases side by side: components added, removed, changed, and the SQL scripts between them. */
import { Link } from "../router";
import { Badge, StatusBadge, formatBytes, shortSha } from "../components/ui";

interface DiffArtifact {
  filename: string;
  kind: string;
  sha256: string;
  size: number;
}

export interface ReleaseDiff {
  product: string;
  from: { version: string; status: string };
  to: { version: string; status: string };
  components: {
    added: Array<{ name: string; version: string; artifacts: DiffArtifact[] }>;
    removed: Array<{ name: string; version: string }>;
    changed: Array<{ name: string; from: string; to: string; artifacts: { added: DiffArtifact[]; removed: DiffArtifact[]; changed: Array<{ from: DiffArtifact; to: DiffArtifact }> } }>;
    unchanged: Array<{ name: string; version: string }>;
  };
  sql: Array<{
    database: string;
    dialect: string;
    scripts: Array<{ id: string; component: string; filename: string; type: string; orderVersion: string; status: string; outOfOrder: boolean }>;
  }>;
}

export function ReleaseDiffView({ diff }: { diff: ReleaseDiff }) {
  const { added, removed, changed, unchanged } = diff.components;
  const rows = [
    ...changed.map((c) => ({ name: c.name, from: c.from, to: c.to, change: "changed" as const, detail: c.artifacts })),
    ...added.map((c) => ({ name: c.name, from: "—", to: c.version, change: "added" as const, detail: undefined })),
    ...removed.map((c) => ({ name: c.name, from: c.version, to: "—", change: "removed" as const, detail: undefined })),
    ...unchanged.map((c) => ({ name: c.name, from: c.version, to: c.version, change: "unchanged" as const, detail: undefined })),
  ];
  const tone = { changed: "info", added: "ok", removed: "danger", unchanged: undefined } as const;

  return (
    <div className="stack" style={{ marginTop: 16 }} data-testid="release-diff">
      <div className="table-wrap">
        <table className="data">
          <caption className="visually-hidden">
            Components from {diff.from.version} to {diff.to.version}
          </caption>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">{diff.from.version}</th>
              <th scope="col">{diff.to.version}</th>
              <th scope="col">Change</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name}>
                <td>{row.name}</td>
                <td>{row.from}</td>
                <td>{row.to}</td>
                <td>
                  <Badge tone={tone[row.change]}>{row.change}</Badge>
                  {row.detail && (
                    <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
                      {row.detail.changed.map((a) => (
                        <li key={a.to.filename}>
                          {a.to.filename}: <code>{shortSha(a.from.sha256)}</code> → <code>{shortSha(a.to.sha256)}</code>
                        </li>
                      ))}
                      {row.detail.added.map((a) => (
                        <li key={`+${a.filename}`}>
                          + {a.filename} <span className="muted">{formatBytes(a.size)}</span>
                        </li>
                      ))}
                      {row.detail.removed.map((a) => (
                        <li key={`-${a.filename}`}>− {a.filename}</li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <h3>SQL scripts between them</h3>
      {diff.sql.length === 0 ? (
        <p className="muted">No SQL scripts run between these releases.</p>
      ) : (
        diff.sql.map((group) => (
          <div key={group.database}>
            <strong>{group.database}</strong> <span className="muted">({group.dialect})</span>
            <ol>
              {group.scripts.map((s) => (
                <li key={s.id}>
                  <Link to={`/sql/${encodeURIComponent(s.id)}`}>{s.filename}</Link> <span className="muted">{s.component}</span> <StatusBadge status={s.status} />
                  {s.outOfOrder && <Badge tone="danger">out of order</Badge>}
                </li>
              ))}
            </ol>
          </div>
        ))
      )}
    </div>
  );
}
