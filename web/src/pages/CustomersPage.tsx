/** Customers: list with paging, and creation for delivery leads, operators and admins. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Page } from "../api/types";
import { Link } from "../router";
import { hasRole, useMe } from "../session";
import { ErrorAlert, PageHeader, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorStack } from "../components/Pager";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";

export const SITE_WRITERS = ["operator", "delivery", "admin"] as const;

export interface Customer {
  id: string;
  name: string;
  displayName: string | null;
  createdAt: string;
  siteCount?: number;
}

export function CustomersPage() {
  const me = useMe();
  const { notify } = useToast();
  const stack = useCursorStack("");
  const page = useResource((signal) => api.get<Page<Customer>>("/customers", { query: { cursor: stack.cursor, limit: 50 }, signal }), [stack.cursor]);
  const [name, setName] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [error, setError] = useState<unknown>();

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    try {
      const created = await api.post<Customer>("/customers", { name: name.trim(), ...(displayName.trim() ? { displayName: displayName.trim() } : {}) });
      notify(`Created customer ${created.name}`);
      setName("");
      setDisplayName("");
      page.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <>
      <PageHeader title="Customers" description="Each customer has sites: the places where a release is installed." />
      <div className="grid-2">
        <DataTable
          label="Customers"
          rows={page.data?.items}
          rowKey={(c) => c.id}
          loading={page.loading}
          error={page.error}
          empty="No customers yet."
          paging={{ kind: "pages", stack, nextCursor: page.data?.nextCursor, label: "Pages of customers" }}
          columns={[
            {
              header: "Customer",
              cell: (c) => (
                <>
                  <Link to={`/customers/${encodeURIComponent(c.name)}`}>{c.displayName ?? c.name}</Link>
                  {c.displayName && <div className="muted">{c.name}</div>}
                </>
              ),
            },
            { header: "Sites", numeric: true, cell: (c) => c.siteCount ?? "—" },
            { header: "Created", cell: (c) => formatDate(c.createdAt) },
          ]}
        />
        {hasRole(me, SITE_WRITERS) && (
          <form className="card" onSubmit={create} aria-labelledby="new-customer-heading">
            <h2 id="new-customer-heading">New customer</h2>
            <ErrorAlert error={error} />
            <div className="field">
              <label htmlFor="c-name">Short name</label>
              <input id="c-name" type="text" required value={name} onChange={(e) => setName(e.target.value)} aria-describedby="c-name-hint" />
              <span id="c-name-hint" className="hint">
                Lower-case letters, digits and '-'; used in bundle names.
              </span>
            </div>
            <div className="field">
              <label htmlFor="c-display">Display name</label>
              <input id="c-display" type="text" value={displayName} onChange={(e) => setDisplayName(e.target.value)} />
            </div>
            <button type="submit" className="btn primary" disabled={!name.trim()}>
              Create customer
            </button>
          </form>
        )}
      </div>
    </>
  );
}

/** Parses `KEY=value` lines; blank lines and lines starting with # are skipped. */
export function parseVariables(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new Error(`“${line}” is not KEY=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}
