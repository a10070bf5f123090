/** API tokens for CI and scripts: created and shown once, listed, revoked. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { ApiToken, CreatedToken, Page, Role } from "../api/types";
import { useSearchParams } from "../router";
import { hasRole, useMe } from "../session";
import { CopyButton, ErrorAlert, PageHeader, RoleBadges, RolePicker, StatusBadge, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorList } from "../components/useCursorList";
import { useToast } from "../components/toasts";

function tokenStatus(token: ApiToken): string {
  if (token.revokedAt) return "revoked";
  if (token.expiresAt && new Date(token.expiresAt).getTime() < Date.now()) return "expired";
  return "active";
}

export function TokensPage() {
  const me = useMe();
  const { notify } = useToast();
  const isAdmin = hasRole(me, ["admin"]);
  const [params, setParams] = useSearchParams();
  const showAll = isAdmin && params.get("all") === "true";
  const tokens = useCursorList(
    (page, signal) => api.get<Page<ApiToken>>("/tokens", { query: { all: showAll ? "true" : undefined, ...page }, signal }),
    [showAll],
    { maxLimit: 500 },
  );

  const [name, setName] = useState("");
  const [roles, setRoles] = useState<Role[]>([]);
  const [days, setDays] = useState("90");
  const [created, setCreated] = useState<CreatedToken>();
  const [createError, setCreateError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setCreateError(undefined);
    setBusy(true);
    try {
      const body = { name: name.trim(), roles, ...(days ? { expiresInDays: Number(days) } : {}) };
      const token = await api.post<CreatedToken>("/tokens", body);
      setCreated(token);
      setName("");
      setRoles([]);
      tokens.reload();
    } catch (error) {
      setCreateError(error);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (token: ApiToken) => {
    if (!window.confirm(`Revoke the token “${token.name}”? Scripts using it will stop working.`)) return;
    try {
      await api.delete(`/tokens/${encodeURIComponent(token.id)}`);
      notify(`Revoked “${token.name}”`);
      tokens.reload();
    } catch (error) {
      notify((error as Error).message, "error");
    }
  };

  return (
    <>
      <PageHeader title="API tokens" description="Tokens let CI and scripts call Ferry (Bearer or curl -u user:token). A token carries at most your roles." />

      <div className="grid-2">
        <form className="card" onSubmit={create} aria-labelledby="new-token-heading">
          <h2 id="new-token-heading">New token</h2>
          <ErrorAlert error={createError} />
          <div className="field">
            <label htmlFor="t-name">Name</label>
            <input id="t-name" type="text" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} placeholder="e.g. ci-pipeline" />
          </div>
          <RolePicker legend="Roles" value={roles} onChange={setRoles} allowed={me.roles} />
          <div className="field">
            <label htmlFor="t-days">Expires in (days)</label>
            <input id="t-days" type="number" min={1} max={3650} value={days} onChange={(e) => setDays(e.target.value)} aria-describedby="t-days-hint" />
            <span id="t-days-hint" className="hint">
              Leave empty for a token that does not expire.
            </span>
          </div>
          <button type="submit" className="btn primary" disabled={busy || !name.trim() || roles.length === 0}>
            Create token
          </button>
        </form>

        {created && (
          <section className="card" aria-labelledby="created-heading" data-testid="created-token">
            <h2 id="created-heading">Token “{created.name}” created</h2>
            <div className="alert info">Copy it now: it is shown only once and Ferry keeps only its hash.</div>
            <div className="secret">
              <code data-testid="token-secret">{created.token}</code>
              <CopyButton text={created.token} />
            </div>
            <p className="muted" style={{ marginTop: 12 }}>
              Roles: <RoleBadges roles={created.roles} />
            </p>
            <button type="button" className="btn" onClick={() => setCreated(undefined)}>
              I have stored it
            </button>
          </section>
        )}
      </div>

      <DataTable
        labelledBy="tokens-heading"
        header={
          <div className="row" style={{ padding: "16px 16px 8px" }}>
            <h2 id="tokens-heading" style={{ margin: 0 }}>
              {showAll ? "Everyone's tokens" : "Your tokens"}
            </h2>
            <span className="spacer" />
            {isAdmin && (
              <label className="row">
                <input type="checkbox" checked={showAll} onChange={(e) => setParams({ all: e.target.checked ? "true" : undefined })} />
                Show everyone's tokens
              </label>
            )}
          </div>
        }
        rows={tokens.items}
        rowKey={(token) => token.id}
        rowProps={(token) => ({ "data-token-name": token.name })}
        loading={tokens.loading}
        error={tokens.error}
        empty="No tokens yet."
        paging={{ kind: "more", list: tokens, noun: "tokens" }}
        columns={[
          { header: "Name", cell: (token) => token.name },
          showAll && { header: "Owner", cell: (token) => token.owner },
          { header: "Roles", cell: (token) => <RoleBadges roles={token.roles} /> },
          { header: "Status", cell: (token) => <StatusBadge status={tokenStatus(token)} /> },
          { header: "Created", cell: (token) => formatDate(token.createdAt) },
          { header: "Expires", cell: (token) => (token.expiresAt ? formatDate(token.expiresAt) : "never") },
          { header: "Last used", cell: (token) => formatDate(token.lastUsedAt) },
          {
            header: "Actions",
            hiddenHeader: true,
            cell: (token) =>
              tokenStatus(token) !== "revoked" && (
                <button type="button" className="btn danger small" onClick={() => revoke(token)} aria-label={`Revoke ${token.name}`}>
                  Revoke
                </button>
              ),
          },
        ]}
      />
    </>
  );
}
