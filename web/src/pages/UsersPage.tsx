/** Users and their roles (admin only): create, disable and enable. */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Page, Role, User } from "../api/types";
import { ErrorAlert, PageHeader, RoleBadges, RolePicker, StatusBadge, formatDate } from "../components/ui";
import { DataTable } from "../components/DataTable";
import { useCursorList } from "../components/useCursorList";
import { useToast } from "../components/toasts";

export function UsersPage() {
  const { notify } = useToast();
  const users = useCursorList((page, signal) => api.get<Page<User>>("/users", { query: { ...page }, signal }), [], { maxLimit: 500 });
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [roles, setRoles] = useState<Role[]>([]);
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setError(undefined);
    setBusy(true);
    try {
      const user = await api.post<User>("/users", { username: username.trim(), password, roles });
      notify(`Created user ${user.username}`);
      setUsername("");
      setPassword("");
      setRoles([]);
      users.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const setDisabled = async (user: User, disabled: boolean) => {
    if (disabled && !window.confirm(`Disable ${user.username}? Their sessions, API tokens and download links stop working at once.`)) return;
    try {
      await api.patch<User>(`/users/${encodeURIComponent(user.id)}`, { disabled });
      notify(`${disabled ? "Disabled" : "Enabled"} ${user.username}`);
      users.reload();
    } catch (err) {
      notify((err as Error).message, "error");
    }
  };

  return (
    <>
      <PageHeader title="Users" description="People who sign in to Ferry. Roles decide what each may do." />
      <div className="grid-2">
        <form className="card" onSubmit={create} aria-labelledby="new-user-heading">
          <h2 id="new-user-heading">New user</h2>
          <ErrorAlert error={error} />
          <div className="field">
            <label htmlFor="nu-username">Username</label>
            <input id="nu-username" type="text" required autoComplete="off" value={username} onChange={(e) => setUsername(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="nu-password">Password</label>
            <input
              id="nu-password"
              type="password"
              required
              minLength={8}
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-describedby="nu-password-hint"
            />
            <span id="nu-password-hint" className="hint">
              At least 8 characters.
            </span>
          </div>
          <RolePicker legend="Roles" value={roles} onChange={setRoles} />
          <button type="submit" className="btn primary" disabled={busy || !username.trim() || !password || roles.length === 0}>
            Create user
          </button>
        </form>
      </div>

      <DataTable
        labelledBy="users-heading"
        header={
          <h2 id="users-heading" style={{ padding: "16px 16px 0" }}>
            All users
          </h2>
        }
        rows={users.items}
        rowKey={(user) => user.id}
        rowProps={(user) => ({ "data-username": user.username })}
        loading={users.loading}
        error={users.error}
        empty="No users."
        paging={{ kind: "more", list: users, noun: "users" }}
        columns={[
          { header: "Username", cell: (user) => user.username },
          { header: "Roles", cell: (user) => <RoleBadges roles={user.roles} /> },
          { header: "Status", cell: (user) => <StatusBadge status={user.disabled ? "disabled" : "active"} /> },
          { header: "Created", cell: (user) => formatDate(user.createdAt) },
          {
            header: "Actions",
            hiddenHeader: true,
            cell: (user) =>
              user.disabled ? (
                <button type="button" className="btn small" onClick={() => setDisabled(user, false)} aria-label={`Enable ${user.username}`}>
                  Enable
                </button>
              ) : (
                <button type="button" className="btn danger small" onClick={() => setDisabled(user, true)} aria-label={`Disable ${user.username}`}>
                  Disable
                </button>
              ),
          },
        ]}
      />
    </>
  );
}
