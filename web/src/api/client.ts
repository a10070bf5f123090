/**
 * The one way the console talks to the Ferry API: adds the session token, turns the
 * API's `{error:{code,message}}` into an ApiError whose message is shown to the user,
 * and announces an expired session so the shell can return to the login page.
 */
const TOKEN_KEY = "ferry.session";
export const API_BASE = "/api/v1";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

type UnauthorizedListener = () => void;
const unauthorizedListeners = new Set<UnauthorizedListener>();

/** Called when the API rejects the session (401); returns an unsubscribe function. */
export function onUnauthorized(listener: UnauthorizedListener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function notifyUnauthorized(): void {
  setToken(null);
  for (const listener of unauthorizedListeners) listener();
}

/** Builds an ApiError from a failed response body, whatever shape it has. */
export function errorFromBody(status: number, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
    if (parsed.error?.message) return new ApiError(status, parsed.error.code ?? "error", parsed.error.message, parsed.error.details);
  } catch {
    // Not JSON: a proxy or the network answered, not the API.
  }
  const fallback = status === 0 ? "The server could not be reached." : `The server answered ${status}.`;
  return new ApiError(status, status === 0 ? "network_error" : "http_error", fallback);
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  signal?: AbortSignal;
  /** The login call itself must not bounce to the login page on 401. */
  skipUnauthorizedRedirect?: boolean;
}

export function withQuery(path: string, query?: RequestOptions["query"]): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

export async function request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json", "x-requested-with": "XMLHttpRequest" };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  let response: Response;
  try {
    // credentials "omit": the token travels in a header, and without credentials the browser
    // hands a 401 carrying `WWW-Authenticate: Basic` to us instead of opening its own
    // password prompt (which would also hang a headless browser).
    response = await fetch(API_BASE + withQuery(path, options.query), { method, headers, body, signal: options.signal, credentials: "omit" });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network_error", "The server could not be reached. Check your connection and try again.");
  }
  const text = await response.text();
  if (!response.ok) {
    const error = errorFromBody(response.status, text);
    if (response.status === 401 && !options.skipUnauthorizedRedirect) notifyUnauthorized();
    throw error;
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, options?: RequestOptions) => request<T>("GET", path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("POST", path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) => request<T>("PATCH", path, { ...options, body }),
  delete: <T>(path: string, options?: RequestOptions) => request<T>("DELETE", path, options),
};

/** Encodes each path segment (component, version, filename) for use in a URL. */
export function pathOf(...segments: string[]): string {
  return segments.map(encodeURIComponent).join("/");
}
