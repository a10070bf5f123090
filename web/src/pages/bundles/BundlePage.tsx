/** One bundle: live build progress (server-sent events), download, parts and manifest. */
import { useEffect, useState } from "react";
import { api, API_BASE } from "../../api/client";
import { downloadViaLink, streamEvents } from "../../api/stream";
import { Link } from "../../router";
import { CopyButton, ErrorAlert, Loading, PageHeader, StatusBadge, formatBytes, formatDate } from "../../components/ui";
import { useToast } from "../../components/toasts";

export interface Bundle {
  id: string;
  status: "queued" | "building" | "ready" | "failed" | "expired";
  site: string;
  release: { product: string; version: string };
  from: string | null;
  components: string[] | null;
  format: string;
  progress: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number };
  sha256: string | null;
  size: number | null;
  parts: Array<{ index?: number; sha256: string; size: number }> | null;
  error: string | null;
  createdBy: string;
  createdAt: string;
  readyAt: string | null;
  manifest?: unknown;
}

const FINAL = new Set(["ready", "failed", "expired"]);

export function bundleFilename(b: Bundle): string {
  return `${b.release.product}-${b.release.version}${b.from ? `_from-${b.from}` : ""}-${b.id.slice(0, 8)}.${b.format}`;
}

export function BundlePage({ id }: { id: string }) {
  const { notify } = useToast();
  const [bundle, setBundle] = useState<Bundle>();
  const [error, setError] = useState<unknown>();
  const [downloading, setDownloading] = useState(false);

  useEffect(() => {
    const controller = new AbortController();
    const load = () => api.get<Bundle>(`/bundles/${encodeURIComponent(id)}`, { signal: controller.signal });
    (async () => {
      let current = await load();
      setBundle(current);
      if (!FINAL.has(current.status)) {
        // Follow the build live; the stream ends when the bundle is ready or failed.
        await streamEvents(`/bundles/${encodeURIComponent(id)}/events`, (_event, data) => setBundle((b) => ({ ...b, ...(JSON.parse(data) as Bundle) })), controller.signal);
        current = await load();
        setBundle(current);
      }
    })().catch((err: unknown) => {
      if (!controller.signal.aborted) setError(err);
    });
    return () => controller.abort();
  }, [id]);

  if (!bundle) return error ? <ErrorAlert error={error} /> : <Loading />;
  const b = bundle;
  const { bytesDone, bytesTotal, filesDone, filesTotal } = b.progress;
  const downloadPath = `/bundles/${encodeURIComponent(b.id)}/download`;

  const download = async (part?: number) => {
    setDownloading(true);
    try {
      await downloadViaLink(`/bundles/${encodeURIComponent(b.id)}/download-link`, part ? { part } : undefined);
    } catch (err) {
      notify((err as Error).message, "error");
    } finally {
      setDownloading(false);
    }
  };
  const curl = `curl -fo ${bundleFilename(b)} -u USER:TOKEN ${window.location.origin}${API_BASE}${downloadPath}`;

  return (
    <>
      <p>
        <Link to="/bundles">← Bundles</Link>
      </p>
      <PageHeader
        title={`Bundle ${b.release.product} ${b.release.version}${b.from ? ` from ${b.from}` : ""}`}
        description={`Requested by ${b.createdBy}, ${formatDate(b.createdAt)}`}
        actions={
          b.status === "ready" && (
            <button type="button" className="btn primary" onClick={() => download()} disabled={downloading}>
              {downloading ? "Downloading…" : "Download"}
            </button>
          )
        }
      />
      <ErrorAlert error={error} />
      <section className="card" aria-labelledby="progress-heading">
        <h2 id="progress-heading">
          Status <StatusBadge status={b.status} />
        </h2>
        {!FINAL.has(b.status) && (
          <>
            <progress className="progress" max={bytesTotal || 1} value={bytesDone} aria-label="Build progress" />
            <p className="muted" role="status" style={{ marginTop: 8 }}>
              {formatBytes(bytesDone)} of {formatBytes(bytesTotal)} · {filesDone} of {filesTotal} files
            </p>
          </>
        )}
        {b.status === "failed" && <div className="alert error">{b.error ?? "The build failed."}</div>}
        {b.status === "ready" && (
          <dl className="facts">
            <dt>Size</dt>
            <dd>{b.size === null ? "—" : formatBytes(b.size)}</dd>
            <dt>SHA-256</dt>
            <dd>
              <code data-testid="bundle-sha256">{b.sha256}</code>
            </dd>
            <dt>Format</dt>
            <dd>{b.format}</dd>
            <dt>Ready</dt>
            <dd>{formatDate(b.readyAt)}</dd>
          </dl>
        )}
        {b.status === "ready" && (
          <div className="secret" style={{ marginTop: 16 }}>
            <code>{curl}</code>
            <CopyButton text={curl} />
          </div>
        )}
      </section>
      {b.status === "ready" && b.parts && b.parts.length > 1 && (
        <section className="card" aria-labelledby="parts-heading">
          <h2 id="parts-heading">Parts for removable media</h2>
          <ol>
            {b.parts.map((p, i) => (
              <li key={i}>
                {formatBytes(p.size)} · <code>{p.sha256}</code>{" "}
                <button type="button" className="btn small" onClick={() => download(i + 1)} disabled={downloading}>
                  Download part {i + 1}
                </button>
              </li>
            ))}
          </ol>
        </section>
      )}
      {b.manifest !== undefined && b.manifest !== null && (
        <section className="card" aria-labelledby="manifest-heading">
          <h2 id="manifest-heading">Manifest</h2>
          <pre className="code" tabIndex={0} data-testid="bundle-manifest">
            {JSON.stringify(b.manifest, null, 2)}
          </pre>
        </section>
      )}
    </>
  );
}
