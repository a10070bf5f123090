/**
 * The form fields that choose what goes into a bundle for a release, shared by the bundle
 * builder and the start-deployment form: the base release of an incremental bundle, and the
 * services to include (none picked: all of the release).
 */
import type { ReleaseSummary } from "../ReleasesPage";

/** A select of the releases an incremental bundle can start from (`from`). */
export function BaseReleaseField({
  id,
  releases,
  value,
  onChange,
  disabled,
  placeholder = "Pick a base…",
}: {
  id: string;
  releases: ReleaseSummary[];
  value: string;
  onChange: (version: string) => void;
  disabled?: boolean;
  placeholder?: string;
}) {
  return (
    <div className="field" style={{ marginTop: 12, maxWidth: 320 }}>
      <label htmlFor={id}>Base release</label>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)} disabled={disabled}>
        <option value="">{placeholder}</option>
        {releases.map((r) => (
          <option key={r.version} value={r.version}>
            {r.product} {r.version}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A checkbox per service of the release; `picked` lists the names checked, in the order picked. */
export function ServicesField({
  release,
  picked,
  onChange,
  name,
  hint,
}: {
  release: ReleaseSummary;
  picked: string[];
  onChange: (picked: string[]) => void;
  name?: string;
  hint?: string;
}) {
  return (
    <fieldset>
      <legend>Services (none picked: all of the release)</legend>
      <div className="checks">
        {release.components.map((c) => (
          <label key={c.name}>
            <input
              type="checkbox"
              name={name}
              value={c.name}
              checked={picked.includes(c.name)}
              onChange={(e) => onChange(e.target.checked ? [...picked, c.name] : picked.filter((n) => n !== c.name))}
            />
            {c.name} {c.version}
          </label>
        ))}
      </div>
      {hint && <p className="hint">{hint}</p>}
    </fieldset>
  );
}
