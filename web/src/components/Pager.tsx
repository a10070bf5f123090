/** Cursor paging as the API does it: `nextCursor` forward, a stack of earlier cursors back. */
import { useEffect, useState } from "react";

export interface CursorStack {
  cursor: string | undefined;
  page: number;
  next(cursor: string): void;
  previous(): void;
}

/** Starts over at page 1 whenever `resetKey` changes (new filters). */
export function useCursorStack(resetKey: string): CursorStack {
  const [stack, setStack] = useState<string[]>([]);
  useEffect(() => setStack([]), [resetKey]);
  return {
    cursor: stack[stack.length - 1],
    page: stack.length + 1,
    next: (cursor) => setStack((s) => [...s, cursor]),
    previous: () => setStack((s) => s.slice(0, -1)),
  };
}

export function Pager({ label, stack, nextCursor, loading }: { label: string; stack: CursorStack; nextCursor: string | null | undefined; loading: boolean }) {
  return (
    <nav className="pager" aria-label={label}>
      <button type="button" className="btn small" disabled={stack.page === 1} onClick={stack.previous}>
        Previous
      </button>
      <span className="muted">Page {stack.page}</span>
      <button type="button" className="btn small" disabled={!nextCursor || loading} onClick={() => nextCursor && stack.next(nextCursor)}>
        Next
      </button>
    </nav>
  );
}
