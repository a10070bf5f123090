/**
 * Server-sent events over fetch (EventSource cannot send the Authorization header), and
 * downloads through short-lived download links (a plain link cannot either).
 */
import { api, API_BASE, errorFromBody, getToken, notifyUnauthorized } from "./client";

function authHeaders(): Record<string, string> {
  const token = getToken();
  return { "x-requested-with": "XMLHttpRequest", ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

async function open(path: string, signal?: AbortSignal): Promise<Response> {
  const response = await fetch(API_BASE + path, { headers: authHeaders(), credentials: "omit", signal });
  if (!response.ok) {
    if (response.status === 401) notifyUnauthorized();
    throw errorFromBody(response.status, await response.text());
  }
  return response;
}

/** Reads `event:`/`data:` frames until the server ends the stream or `signal` aborts. */
export async function streamEvents(path: string, onEvent: (event: string, data: string) => void, signal: AbortSignal): Promise<void> {
  const response = await open(path, signal);
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message";
      const data: string[] = [];
      for (const line of frame.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(event, data.join("\n"));
    }
  }
}

/**
 * Downloads a file the way a browser downloads any link, streamed to disk whatever its
 * size: the API is asked for a short-lived link to this one file (access is checked then,
 * with the session's token), and the browser follows it; the file name comes from the
 * server's Content-Disposition.
 */
export async function downloadViaLink(linkPath: string, body?: unknown): Promise<void> {
  const { url } = await api.post<{ url: string; expiresAt: string }>(linkPath, body);
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = "";
  anchor.rel = "noopener";
  document.body.appendChild(anchor);
  anchor.click();
  anchor.remove();
}
