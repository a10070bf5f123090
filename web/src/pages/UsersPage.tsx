/** Users and their roles (admin only). */
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { ItemList, Role, User } from "../api/types";
import { ErrorAlert, PageHeader, RoleBadges, RolePicker, StatusBadge, formatDate } from "../components/ui";
import { useResource } from "../components/useResource";
import { useToast } from "../components/toasts";

export function UsersPage() {
  const { notify } = useToast();
  const users = useResource((signal) => api.get<ItemList<User>>("/users", { signal }), []);
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

  return (
    <>
      <PageHeader title="Users" description="People who sign in to Ferry. Roles decide what each may do." />
      <div className="grid-2">
        <section className="card flush" aria-labelledby="users-heading" aria-busy={users.loading}>
          <h2 id="users-heading" style={{ padding: "16px 16px 0" }}>
            All users
          </h2>
          <ErrorAlert error={users.error} />
          <div className="table-wrap">
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">Username</th>
                  <th scope="col">Roles</th>
                  <th scope="col">Status</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {users.data?.items.map((user) => (
                  <tr key={user.id}>
                    <td>{user.username}</td>
                    <td>
                      <RoleBadges roles={user.roles} />
                    </td>
                    <td>
                      <StatusBadge status={user.disabled ? "disabled" : "active"} />
                    </td>
                    <td>{formatDate(user.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>

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
    </>
  );
}
