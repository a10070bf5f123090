/**
 * The live log of a deployment: stored lines, then new ones as the server-sent event stream
 * delivers them, until its `end` event. Follows the newest line unless the reader scrolled
 * up (or turned following off); the region is focusable so the keyboard can scroll it.
 */
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import { streamEvents } from "../../api/stream";
import { ErrorAlert } from "../../components/ui";
import type { DeploymentLogLine } from "./types";
import "./deployments.css";

const RETRY_MS = 2_000;

export function DeploymentLog({ id, onEnd }: { id: string; onEnd(status: string): void }) {
  const [lines, setLines] = useState<DeploymentLogLine[]>([]);
  const [following, setFollowing] = useState(true);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>();
  const box = useRef<HTMLPreElement>(null);
  const onEndRef = useRef(onEnd);
  onEndRef.current = onEnd;

  useEffect(() => {
    const controller = new AbortController();
    let last = 0;
    let done = false;
    setLines([]);
    setEnded(false);
    (async () => {
      // Reconnect after a dropped connection, resuming after the last line seen.
      while (!done && !controller.signal.aborted) {
        try {
          await streamEvents(
            `/deployments/${encodeURIComponent(id)}/logs${last ? `?after=${last}` : ""}`,
            (event, data) => {
              if (event === "log") {
                const line = JSON.parse(data) as DeploymentLogLine;
                last = Math.max(last, line.id);
                setLines((all) => [...all, line]);
              } else if (event === "end") {
                done = true;
                setEnded(true);
                onEndRef.current((JSON.parse(data) as { status: string }).status);
              }
            },
            controller.signal,
          );
          setError(undefined);
        } catch (err) {
          if (controller.signal.aborted) return;
          setError(err);
        }
        if (!done) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    })();
    return () => controller.abort();
  }, [id]);

  useLayoutEffect(() => {
    if (following && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, following]);

  // Scrolling away from the bottom pauses following; scrolling back resumes it.
  const onScroll = () => {
    const el = box.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
    if (atBottom !== following) setFollowing(atBottom);
  };

  return (
    <>
      <div className="row" style={{ justifyContent: "space-between", marginBottom: 8 }}>
        <span className="muted" role="status">
          {ended ? `Log complete · ${lines.length} lines` : `Following live · ${lines.length} lines`}
        </span>
        <label>
          <input type="checkbox" checked={following} onChange={(e) => setFollowing(e.target.checked)} /> Follow new lines
        </label>
      </div>
      <ErrorAlert error={error} />
      <pre className="deploy-log" ref={box} onScroll={onScroll} tabIndex={0} role="log" aria-label="Deployment log" data-testid="deployment-log">
        {lines.length === 0 && <span className="log-line agent">{ended ? "No log lines were recorded." : "Waiting for the first log line…"}</span>}
        {lines.map((l) => (
          <span key={l.id} className={`log-line ${l.stream}`}>
            <span className="log-time">{new Date(l.at).toLocaleTimeString()}</span>
            {l.line}
            {"\n"}
          </span>
        ))}
      </pre>
    </>
  );
}
