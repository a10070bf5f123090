/**
 * Upload artifacts by drag and drop. Each file is streamed from disk with its own progress
 * bar, one after another so a slow link is not split between files.
 */
import { useRef, useState, type DragEvent, type FormEvent } from "react";
import { uploadArtifact, type UploadHandle } from "../api/upload";
import { ARTIFACT_KINDS, SQL_DIALECTS, SQL_TYPES } from "../api/types";
import { Link } from "../router";
import { ErrorAlert, PageHeader, formatBytes } from "../components/ui";
import { useToast } from "../components/toasts";
import { artifactHref } from "./ArtifactsPage";

type ItemState = "queued" | "uploading" | "done" | "failed";
interface Item {
  key: string;
  file: File;
  sha256: string;
  state: ItemState;
  loaded: number;
  message?: string;
  href?: string;
}

const COMPONENT = /^[a-z0-9][a-z0-9._-]{0,99}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_~-]{0,99}$/;
const SHA256 = /^[a-fA-F0-9]{64}$/;

export function UploadPage() {
  const { notify } = useToast();
  const [component, setComponent] = useState("");
  const [version, setVersion] = useState("");
  const [kind, setKind] = useState("");
  const [sqlDatabase, setSqlDatabase] = useState("");
  const [sqlDialect, setSqlDialect] = useState("");
  const [sqlType, setSqlType] = useState("");
  const [items, setItems] = useState<Item[]>([]);
  const [dragging, setDragging] = useState(false);
  const [running, setRunning] = useState(false);
  const [formError, setFormError] = useState<string>();
  const current = useRef<UploadHandle | null>(null);
  const input = useRef<HTMLInputElement>(null);

  const update = (key: string, patch: Partial<Item>) => setItems((all) => all.map((item) => (item.key === key ? { ...item, ...patch } : item)));

  const add = (files: FileList | null) => {
    if (!files?.length) return;
    const added = Array.from(files).map((file) => ({ key: `${file.name}-${file.size}-${Math.random()}`, file, sha256: "", state: "queued" as const, loaded: 0 }));
    setItems((all) => [...all.filter((i) => i.state !== "done"), ...added]);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    add(event.dataTransfer.files);
  };

  const hasSql = kind === "sql" || (!kind && items.some((i) => i.state !== "done" && i.file.name.toLowerCase().endsWith(".sql")));

  const start = async (event: FormEvent) => {
    event.preventDefault();
    setFormError(undefined);
    if (!COMPONENT.test(component)) return setFormError("Component: 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit.");
    if (!VERSION.test(version)) return setFormError("Version: 1-100 letters, digits, '.', '+', '_', '~' or '-', starting with a letter or digit.");
    const pending = items.filter((i) => i.state === "queued" || i.state === "failed");
    if (!pending.length) return setFormError("Add at least one file.");
    const badSha = pending.find((i) => i.sha256 && !SHA256.test(i.sha256.trim()));
    if (badSha) return setFormError(`The SHA-256 for ${badSha.file.name} must be 64 hexadecimal characters.`);

    setRunning(true);
    let succeeded = 0;
    for (const item of pending) {
      update(item.key, { state: "uploading", loaded: 0, message: undefined });
      const target = {
        component,
        version,
        filename: item.file.name,
        kind: kind || undefined,
        sha256: item.sha256.trim().toLowerCase() || undefined,
        sql: hasSql ? { database: sqlDatabase.trim(), dialect: sqlDialect, type: sqlType } : undefined,
      };
      current.current = uploadArtifact(item.file, target, (loaded) => update(item.key, { loaded }));
      try {
        const result = await current.current.promise;
        succeeded++;
        update(item.key, {
          state: "done",
          loaded: item.file.size,
          href: artifactHref(result.artifact),
          message: result.status === 201 ? "Uploaded" : "Already stored with the same content",
        });
      } catch (error) {
        update(item.key, { state: "failed", message: (error as Error).message });
      }
    }
    current.current = null;
    setRunning(false);
    if (succeeded) notify(`${succeeded} of ${pending.length} file${pending.length === 1 ? "" : "s"} uploaded to ${component} ${version}`);
  };

  return (
    <>
      <PageHeader title="Upload artifacts" description="Files are streamed to the server and verified by SHA-256; large files work." />
      <form className="card" onSubmit={start} aria-labelledby="upload-heading">
        <h2 id="upload-heading">Destination</h2>
        <div className="filters">
          <div className="field">
            <label htmlFor="u-component">Component</label>
            <input id="u-component" type="text" required value={component} onChange={(e) => setComponent(e.target.value)} disabled={running} />
          </div>
          <div className="field">
            <label htmlFor="u-version">Version</label>
            <input id="u-version" type="text" required value={version} onChange={(e) => setVersion(e.target.value)} disabled={running} />
          </div>
          <div className="field">
            <label htmlFor="u-kind">Kind</label>
            <select id="u-kind" value={kind} onChange={(e) => setKind(e.target.value)} disabled={running}>
              <option value="">Automatic (.sql → sql, else binary)</option>
              {ARTIFACT_KINDS.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </div>
        </div>

        {hasSql && (
          <fieldset style={{ marginTop: 16 }}>
            <legend>SQL scripts</legend>
            <div className="filters">
              <div className="field">
                <label htmlFor="u-sql-database">Logical database</label>
                <input id="u-sql-database" type="text" value={sqlDatabase} onChange={(e) => setSqlDatabase(e.target.value)} disabled={running} aria-describedby="u-sql-hint" />
              </div>
              <div className="field">
                <label htmlFor="u-sql-dialect">Dialect</label>
                <select id="u-sql-dialect" value={sqlDialect} onChange={(e) => setSqlDialect(e.target.value)} disabled={running}>
                  <option value="">From the catalog</option>
                  {SQL_DIALECTS.map((d) => (
                    <option key={d} value={d}>
                      {d}
                    </option>
                  ))}
                </select>
              </div>
              <div className="field">
                <label htmlFor="u-sql-type">Type</label>
                <select id="u-sql-type" value={sqlType} onChange={(e) => setSqlType(e.target.value)} disabled={running}>
                  <option value="">From the Flyway file name</option>
                  {SQL_TYPES.map((t) => (
                    <option key={t} value={t}>
                      {t}
                    </option>
                  ))}
                </select>
              </div>
            </div>
            <p id="u-sql-hint" className="hint muted" style={{ margin: "8px 0 0" }}>
              SQL scripts wait for a DBA's approval before any bundle or deployment may carry them.
            </p>
          </fieldset>
        )}

        <div
          className={`dropzone${dragging ? " active" : ""}`}
          style={{ marginTop: 16 }}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
          onClick={() => input.current?.click()}
          data-testid="dropzone"
        >
          <strong>Drop files here</strong>
          <span className="muted">or</span>
          <label htmlFor="u-files" className="btn" onClick={(e) => e.stopPropagation()}>
            Choose files…
          </label>
          <input
            id="u-files"
            ref={input}
            className="visually-hidden"
            type="file"
            multiple
            onChange={(e) => {
              add(e.target.files);
              e.target.value = "";
            }}
          />
        </div>

        {items.length > 0 && (
          <ul className="upload-list" aria-label="Files to upload">
            {items.map((item) => (
              <li key={item.key} data-state={item.state}>
                <div className="row">
                  <strong>{item.file.name}</strong>
                  <span className="muted">{formatBytes(item.file.size)}</span>
                  <span className="spacer" />
                  {item.state === "done" && item.href ? <Link to={item.href}>{item.message}</Link> : item.state === "failed" ? null : <span className="muted">{item.state}</span>}
                  {(item.state === "queued" || item.state === "failed") && !running && (
                    <button type="button" className="btn ghost small" onClick={() => setItems(items.filter((i) => i.key !== item.key))} aria-label={`Remove ${item.file.name}`}>
                      Remove
                    </button>
                  )}
                  {item.state === "uploading" && (
                    <button type="button" className="btn small" onClick={() => current.current?.abort()}>
                      Cancel
                    </button>
                  )}
                </div>
                {item.state === "queued" && (
                  <div className="field" style={{ marginTop: 8, marginBottom: 0 }}>
                    <label htmlFor={`sha-${item.key}`}>Expected SHA-256 (optional)</label>
                    <input id={`sha-${item.key}`} type="text" className="mono" value={item.sha256} onChange={(e) => update(item.key, { sha256: e.target.value })} />
                  </div>
                )}
                {(item.state === "uploading" || item.state === "done") && (
                  <progress className="progress" max={item.file.size || 1} value={item.loaded} aria-label={`Upload progress of ${item.file.name}`} />
                )}
                {item.state === "failed" && (
                  <div className="alert error" role="alert" style={{ marginTop: 8, marginBottom: 0 }}>
                    {item.message}
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}

        {formError && <ErrorAlert error={formError} />}
        <div className="row end" style={{ marginTop: 16 }}>
          <button type="submit" className="btn primary" disabled={running}>
            {running ? "Uploading…" : "Upload"}
          </button>
        </div>
      </form>
    </>
  );
}
