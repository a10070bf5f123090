/** The DBA review queue: SQL scripts by status, with their lint findings counted. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Page } from "../api/types";
import { Link, useSearchParams } from "../router";
import { Badge, PageHeader, StatusBadge, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorStack } from "../components/Pager";
import { useResource } from "../components/useResource";
import type { Finding } from "../components/SqlView";

export interface SqlScript {
  id: string;
  component: string;
  version: string;
  filename: string;
  sha256: string;
  size: number;
  database: string;
  dialect: string;
  type: string;
  orderVersion: string | null;
  description: string;
  status: "pending" | "approved" | "rejected";
  approvedSha256: string | null;
  approvalValid: boolean;
  uploadedBy: string;
  createdAt: string;
  findings: Finding[];
  findingCounts: { error: number; warning: number; info: number };
}

const STATUSES = [
  { value: "pending", label: "Waiting for review" },
  { value: "approved", label: "Approved" },
  { value: "rejected", label: "Rejected" },
  { value: "", label: "All" },
];

export function SqlQueuePage() {
  const [params, setParams] = useSearchParams();
  const rawStatus = params.get("status") ?? "pending";
  const status = rawStatus === "all" ? "" : rawStatus;
  const component = params.get("component") ?? "";
  const [draft, setDraft] = useState(component);
  const key = `${status}|${component}`;
  const stack = useCursorStack(key);
  const page = useResource(
    (signal) => api.get<Page<SqlScript>>("/sql-scripts", { query: { status: status || undefined, component, cursor: stack.cursor, limit: 25 }, signal }),
    [key, stack.cursor],
  );

  const filter = (event: FormEvent) => {
    event.preventDefault();
    setParams({ status: rawStatus, component: draft.trim() });
  };

  return (
    <>
      <PageHeader title="SQL review" description="Schema and data scripts wait here until a DBA other than their uploader approves them." />
      <nav className="tabs" aria-label="Review status">
        {STATUSES.map((s) => (
          <Link
            key={s.value || "all"}
            to={`/sql?status=${s.value || "all"}${component ? `&component=${encodeURIComponent(component)}` : ""}`}
            aria-current={status === s.value ? "page" : undefined}
          >
            {s.label}
          </Link>
        ))}
      </nav>
      <form className="row" onSubmit={filter} style={{ marginBottom: 16 }}>
        <label htmlFor="sql-component">Component</label>
        <input id="sql-component" type="text" value={draft} onChange={(e) => setDraft(e.target.value)} style={{ maxWidth: 260 }} />
        <button type="submit" className="btn">
          Filter
        </button>
      </form>
      <DataTable
        label="Scripts"
        rows={page.data?.items}
        rowKey={(s) => s.id}
        loading={page.loading}
        error={page.error}
        empty={status === "pending" ? "Nothing waits for review." : "No scripts here."}
        paging={{ kind: "pages", stack, nextCursor: page.data?.nextCursor, label: "Pages of scripts" }}
        columns={[
          {
            header: "Script",
            cell: (s) => (
              <>
                <Link to={`/sql/${encodeURIComponent(s.id)}`}>{s.filename}</Link>
                {s.description && <div className="muted">{s.description}</div>}
              </>
            ),
          },
          {
            header: "Component",
            cell: (s) => (
              <>
                {s.component} <span className="muted">{s.version}</span>
              </>
            ),
          },
          {
            header: "Database",
            cell: (s) => (
              <>
                {s.database} <span className="muted">({s.dialect})</span>
              </>
            ),
          },
          {
            header: "Type",
            cell: (s) => (
              <>
                {s.type}
                {s.orderVersion && <span className="muted"> {s.orderVersion}</span>}
              </>
            ),
          },
          { header: "Findings", cell: (s) => <FindingCounts counts={s.findingCounts} /> },
          {
            header: "Status",
            cell: (s) => (
              <>
                <StatusBadge status={s.status} />
                {s.status === "approved" && !s.approvalValid && <Badge tone="danger">content changed</Badge>}
              </>
            ),
          },
          {
            header: "Uploaded",
            cell: (s) => (
              <>
                {formatDate(s.createdAt)}
                <div className="muted">{s.uploadedBy}</div>
              </>
            ),
          },
        ]}
      />
    </>
  );
}

export function FindingCounts({ counts }: { counts: SqlScript["findingCounts"] }) {
  if (!counts.error && !counts.warning && !counts.info) return <Badge tone="ok">clean</Badge>;
  return (
    <>
      {counts.error > 0 && <Badge tone="danger">{counts.error} error{counts.error === 1 ? "" : "s"}</Badge>}
      {counts.warning > 0 && <Badge tone="warn">{counts.warning} warning{counts.warning === 1 ? "" : "s"}</Badge>}
      {counts.info > 0 && <Badge tone="info">{counts.info} note{counts.info === 1 ? "" : "s"}</Badge>}
    </>
  );
}
