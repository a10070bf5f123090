/**
 * The console's one list table: a card holding a heading or toolbar, the API's error, the
 * table with its empty and loading rows, and a paging control driven by the API's
 * `nextCursor` — "Load more" (a CursorList) or Previous/Next pages (a CursorStack).
 */
import type { ReactNode } from "react";
import { ErrorAlert } from "./ui";
import { Pager, type CursorStack } from "./Pager";
import type { CursorList } from "./useCursorList";

export interface Column<T> {
  /** The column header; give `hiddenHeader` for columns of buttons. */
  header: string;
  hiddenHeader?: boolean;
  cell(row: T): ReactNode;
  numeric?: boolean;
}

export type Paging =
  | { kind: "more"; list: Pick<CursorList<unknown>, "hasMore" | "loadMore" | "loading" | "items">; noun: string }
  | { kind: "pages"; stack: CursorStack; nextCursor: string | null | undefined; label: string };

interface Props<T> {
  /** Accessible name of the section when it has no visible heading. */
  label?: string;
  /** Id of a visible heading inside `header`, which then names the section. */
  labelledBy?: string;
  header?: ReactNode;
  /** `false`, `null` or `undefined` entries are left out (columns shown only to some users). */
  columns: Array<Column<T> | false | null | undefined>;
  rows: readonly T[] | undefined;
  rowKey(row: T): string;
  rowProps?(row: T): Record<string, string | undefined>;
  loading: boolean;
  error?: unknown;
  empty: ReactNode;
  paging?: Paging;
}

export function DataTable<T>({ label, labelledBy, header, columns, rows, rowKey, rowProps, loading, error, empty, paging }: Props<T>) {
  const shown = columns.filter((c): c is Column<T> => Boolean(c));
  return (
    <section className="card flush" aria-label={labelledBy ? undefined : label} aria-labelledby={labelledBy} aria-busy={loading}>
      {header}
      <ErrorAlert error={error} />
      <div className="table-wrap">
        <table className="data">
          <thead>
            <tr>
              {shown.map((column) => (
                <th key={column.header} scope="col" className={column.numeric ? "num" : undefined}>
                  {column.hiddenHeader ? <span className="visually-hidden">{column.header}</span> : column.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {rows?.map((row) => (
              <tr key={rowKey(row)} {...rowProps?.(row)}>
                {shown.map((column) => (
                  <td key={column.header} className={column.numeric ? "num" : undefined}>
                    {column.cell(row)}
                  </td>
                ))}
              </tr>
            ))}
            {rows && rows.length === 0 && !loading && (
              <tr>
                <td colSpan={shown.length} className="empty">
                  {empty}
                </td>
              </tr>
            )}
            {!rows && loading && (
              <tr>
                <td colSpan={shown.length} className="empty">
                  Loading…
                </td>
              </tr>
            )}
          </tbody>
        </table>
      </div>
      {paging?.kind === "pages" && <Pager label={paging.label} stack={paging.stack} nextCursor={paging.nextCursor} loading={loading} />}
      {paging?.kind === "more" && <LoadMore paging={paging} />}
    </section>
  );
}

function LoadMore({ paging }: { paging: Extract<Paging, { kind: "more" }> }) {
  const { list, noun } = paging;
  // A complete list needs no footer.
  if (!list.hasMore) return null;
  return (
    <div className="pager">
      <span className="muted" role="status">
        {list.items?.length ?? 0} {noun} shown; there are more
      </span>
      <button type="button" className="btn small" onClick={list.loadMore} disabled={list.loading}>
        {list.loading ? "Loading…" : "Load more"}
      </button>
    </div>
  );
}
