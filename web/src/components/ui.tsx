/** Small building blocks shared by every page. */
import { useEffect, useRef, useState } from "react";
import { ROLES, type Role } from "../api/types";
import { useToast } from "./toasts";

export function PageHeader({ title, description, actions }: { title: string; description?: string; actions?: React.ReactNode }) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · Ferry`;
  }, [title]);
  return (
    <header className="page-header">
      <div>
        <h1 ref={heading}>{title}</h1>
        {description && <p>{description}</p>}
      </div>
      {actions && <div className="row">{actions}</div>}
    </header>
  );
}

export function ErrorAlert({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <div className="alert error" role="alert">
      {message}
    </div>
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <p className="muted" role="status">
      <span className="spinner" aria-hidden="true" /> {label}
    </p>
  );
}

type Tone = "ok" | "warn" | "danger" | "info" | undefined;

export function Badge({ tone, children }: { tone?: Tone; children: React.ReactNode }) {
  return <span className={`badge${tone ? ` ${tone}` : ""}`}>{children}</span>;
}

const STATUS_TONES: Record<string, Tone> = {
  approved: "ok",
  sealed: "ok",
  succeeded: "ok",
  ready: "ok",
  online: "ok",
  active: "ok",
  pending: "warn",
  draft: "info",
  queued: "info",
  running: "info",
  building: "info",
  rejected: "danger",
  failed: "danger",
  revoked: "danger",
  disabled: "danger",
  expired: "danger",
  rolled_back: "warn",
};

export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={STATUS_TONES[status]}>{status.replace(/_/g, " ")}</Badge>;
}

export function RoleBadges({ roles }: { roles: readonly string[] }) {
  return (
    <>
      {roles.map((role) => (
        <Badge key={role} tone={role === "admin" ? "info" : undefined}>
          {role}
        </Badge>
      ))}
    </>
  );
}

/** A fieldset of role checkboxes. */
export function RolePicker({
  legend,
  value,
  onChange,
  allowed = ROLES,
}: {
  legend: string;
  value: Role[];
  onChange(roles: Role[]): void;
  allowed?: readonly Role[];
}) {
  return (
    <fieldset className="field">
      <legend>{legend}</legend>
      <div className="checks">
        {allowed.map((role) => (
          <label key={role}>
            <input
              type="checkbox"
              name="roles"
              value={role}
              checked={value.includes(role)}
              onChange={(event) => onChange(event.target.checked ? [...value, role] : value.filter((r) => r !== role))}
            />
            {role}
          </label>
        ))}
      </div>
    </fieldset>
  );
}

export function CopyButton({ text, label = "Copy" }: { text: string; label?: string }) {
  const { notify } = useToast();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      notify("Copying is not allowed here; select the text and copy it by hand.", "error");
    }
  };
  return (
    <button type="button" className="btn small" onClick={copy}>
      {copied ? "Copied" : label}
    </button>
  );
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return "—";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function shortSha(sha: string): string {
  return sha.slice(0, 12);
}
