/**
 * A list read page by page with the API's keyset cursor, for "Load more": the first page
 * loads when `deps` change, `loadMore()` appends the next one, `reload()` fetches again as
 * many rows as are shown (so a change made on page three does not fold the list back).
 */
import { useCallback, useEffect, useRef, useState } from "react";
import type { Page } from "../api/types";

export interface PageRequest {
  cursor?: string;
  limit: number;
}

export interface CursorList<T> {
  items: T[] | undefined;
  error: unknown;
  /** Any request in flight (the first page, a reload or more). */
  loading: boolean;
  hasMore: boolean;
  loadMore(): void;
  reload(): void;
}

export function useCursorList<T>(
  load: (page: PageRequest, signal: AbortSignal) => Promise<Page<T>>,
  deps: readonly unknown[],
  options: { pageSize?: number; maxLimit?: number } = {},
): CursorList<T> {
  const pageSize = options.pageSize ?? 50;
  const maxLimit = options.maxLimit ?? 200;
  const [items, setItems] = useState<T[]>();
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);
  // What to fetch next: the first page(s) again (a number of rows) or the page after a cursor.
  const [request, setRequest] = useState<{ generation: number; limit: number; after?: string }>({ generation: 0, limit: pageSize });
  const loadRef = useRef(load);
  loadRef.current = load;
  const shown = useRef(0);
  shown.current = items?.length ?? 0;

  // New filters start over at one page.
  const key = JSON.stringify(deps);
  const firstRun = useRef(true);
  useEffect(() => {
    if (firstRun.current) {
      firstRun.current = false;
      return;
    }
    setRequest((r) => ({ generation: r.generation + 1, limit: pageSize }));
  }, [key, pageSize]);

  useEffect(() => {
    const controller = new AbortController();
    setLoading(true);
    setError(undefined);
    loadRef
      .current({ cursor: request.after, limit: request.limit }, controller.signal)
      .then((page) => {
        if (controller.signal.aborted) return;
        setItems((previous) => (request.after ? [...(previous ?? []), ...page.items] : page.items));
        setNextCursor(page.nextCursor);
      })
      .catch((err: unknown) => {
        if (!controller.signal.aborted) setError(err);
      })
      .finally(() => {
        if (!controller.signal.aborted) setLoading(false);
      });
    return () => controller.abort();
  }, [request]);

  const loadMore = useCallback(() => {
    if (nextCursor) setRequest((r) => ({ generation: r.generation + 1, limit: pageSize, after: nextCursor }));
  }, [nextCursor, pageSize]);
  const reload = useCallback(
    () => setRequest((r) => ({ generation: r.generation + 1, limit: Math.min(maxLimit, Math.max(pageSize, shown.current)) })),
    [maxLimit, pageSize],
  );

  return { items, error, loading, hasMore: Boolean(nextCursor), loadMore, reload };
}
