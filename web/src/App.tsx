/** The signed-in shell (navigation, main region) or the login page. */
import { useEffect, useRef } from "react";
import { Link, matchPath, useRouter } from "./router";
import { PAGE_ROUTES, HOME, type PageRoute } from "./routes";
import { hasRole, useMe, useSession } from "./session";
import { LoginPage } from "./pages/LoginPage";
import { Loading, RoleBadges } from "./components/ui";

export function App() {
  const { state } = useSession();
  if (state.status === "loading") {
    return (
      <main className="login-page">
        <div className="login-card">
          <Loading label="Restoring your session…" />
        </div>
      </main>
    );
  }
  if (state.status === "signed-out") return <LoginPage notice={state.reason} />;
  return <Shell />;
}

function BrandMark() {
  return (
    <svg className="brand-mark" viewBox="0 0 32 32" aria-hidden="true">
      <rect width="32" height="32" rx="7" fill="#2563eb" />
      <path d="M6 19h20l-3 6H9z" fill="#fff" />
      <path d="M15 7v10M15 7l6 8h-6" stroke="#fff" strokeWidth="2" fill="none" />
    </svg>
  );
}

function resolve(pathname: string): { route: PageRoute; params: Record<string, string> } | null {
  for (const route of PAGE_ROUTES) {
    const params = matchPath(route.path, pathname);
    if (params) return { route, params };
  }
  return null;
}

function Shell() {
  const me = useMe();
  const { logout } = useSession();
  const { pathname, navigate } = useRouter();
  const main = useRef<HTMLElement>(null);

  useEffect(() => {
    if (pathname === "/" || pathname === "/login") navigate(HOME, { replace: true });
  }, [pathname, navigate]);

  // Move focus to the page after client-side navigation so screen readers announce it.
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus();
  }, [pathname]);

  const match = resolve(pathname);
  const nav = PAGE_ROUTES.filter((route) => route.navLabel && hasRole(me, route.roles));

  let content: React.ReactNode;
  if (!match) {
    content = pathname === "/" || pathname === "/login" ? null : <NotFound />;
  } else if (!hasRole(me, match.route.roles)) {
    content = <Forbidden />;
  } else {
    content = match.route.render(match.params);
  }

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <Link to={HOME} className="brand">
          <BrandMark />
          Ferry
        </Link>
        <nav className="nav" aria-label="Main">
          <ul>
            {nav.map((route) => (
              <li key={route.path}>
                <Link to={route.path} aria-current={match?.route.section === route.section ? "page" : undefined}>
                  {route.navLabel}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="sidebar-footer">
          <div className="who">{me.username}</div>
          <div className="roles">
            <RoleBadges roles={me.roles} />
          </div>
          <button type="button" className="btn small" onClick={logout}>
            Sign out
          </button>
        </div>
      </aside>
      <main id="main" className="main" tabIndex={-1} ref={main}>
        {content}
      </main>
    </div>
  );
}

function NotFound() {
  return (
    <section className="card">
      <h1>Page not found</h1>
      <p>
        There is no page here. <Link to={HOME}>Go to the dashboard</Link>.
      </p>
    </section>
  );
}

function Forbidden() {
  return (
    <section className="card">
      <h1>Not allowed</h1>
      <p>Your roles do not allow this page. Ask an administrator if you need access.</p>
    </section>
  );
}
