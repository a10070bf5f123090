import { useEffect, useState, type FormEvent } from "react";
import { useSession } from "../session";
import { ErrorAlert } from "../components/ui";

export function LoginPage({ notice }: { notice?: string }) {
  const { login } = useSession();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    document.title = "Sign in · Ferry";
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <main className="login-page">
      <div className="login-card">
        <div className="brand">
          <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
            <rect width="32" height="32" rx="7" fill="#2563eb" />
            <path d="M6 19h20l-3 6H9z" fill="#fff" />
            <path d="M15 7v10M15 7l6 8h-6" stroke="#fff" strokeWidth="2" fill="none" />
          </svg>
          Ferry
        </div>
        <h1>Sign in</h1>
        <p className="muted">Artifacts, releases and deliveries to your customer sites.</p>
        {notice && !error && (
          <div className="alert info" role="status">
            {notice}
          </div>
        )}
        <ErrorAlert error={error} />
        <form onSubmit={submit} noValidate>
          <div className="field">
            <label htmlFor="login-username">Username</label>
            <input
              id="login-username"
              type="text"
              autoComplete="username"
              autoFocus
              required
              value={username}
              onChange={(e) => setUsername(e.target.value)}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password">Password</label>
            <input
              id="login-password"
              type="password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </div>
          <button type="submit" className="btn primary" style={{ width: "100%" }} disabled={busy || !username || !password}>
            {busy ? "Signing in…" : "Sign in"}
          </button>
        </form>
      </div>
    </main>
  );
}
