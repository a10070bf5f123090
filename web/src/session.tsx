/**
 * Who is signed in. The JWT lives in sessionStorage (gone when the tab closes); the roles
 * come from `GET /auth/me` so the console shows only what the API would allow.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from "react";
import { api, getToken, onUnauthorized, setToken } from "./api/client";
import type { LoginResponse, Me, Role } from "./api/types";

type SessionState =
  | { status: "loading" }
  | { status: "signed-out"; reason?: string }
  | { status: "signed-in"; me: Me };

interface SessionValue {
  state: SessionState;
  login(username: string, password: string): Promise<void>;
  logout(): void;
}

const SessionContext = createContext<SessionValue | null>(null);

export function SessionProvider({ children }: { children: React.ReactNode }) {
  const [state, setState] = useState<SessionState>(() => (getToken() ? { status: "loading" } : { status: "signed-out" }));

  useEffect(() => {
    if (!getToken()) return;
    api
      .get<Me>("/auth/me")
      .then((me) => setState({ status: "signed-in", me }))
      .catch(() => {
        setToken(null);
        setState({ status: "signed-out" });
      });
  }, []);

  useEffect(
    () => onUnauthorized(() => setState({ status: "signed-out", reason: "Your session has ended. Please sign in again." })),
    [],
  );

  const login = useCallback(async (username: string, password: string) => {
    const session = await api.post<LoginResponse>("/auth/login", { username, password }, { skipUnauthorizedRedirect: true });
    setToken(session.token);
    const me = await api.get<Me>("/auth/me");
    setState({ status: "signed-in", me });
  }, []);

  const logout = useCallback(() => {
    setToken(null);
    setState({ status: "signed-out", reason: "You have signed out." });
  }, []);

  const value = useMemo(() => ({ state, login, logout }), [state, login, logout]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession outside SessionProvider");
  return value;
}

/** The signed-in user; only for components rendered inside the signed-in shell. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.status !== "signed-in") throw new Error("useMe while signed out");
  return state.me;
}

export function hasRole(me: Me, roles: readonly Role[] | "authenticated"): boolean {
  return roles === "authenticated" || me.roles.some((role) => roles.includes(role));
}
