import { type Dispatch, type StateUpdater, useCallback, useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "./api.ts";

/** One page of a cursor-paged list, as a page loader hands it back (it may carry more, e.g. a total). */
export interface Page<T> {
  rows: T[];
  next: string | null;
}

export interface PagedListOptions<P> {
  /** Called with each answer that is still current, to keep what else a page carries (a total, …). */
  onPage?: (page: P, cursor: string | null) => void;
  /**
   * When a shown error goes away: as a request starts (the default), or only once an answer arrives,
   * so a page refreshed in the background keeps its error on screen instead of flickering.
   */
  clearErrorOn?: "request" | "answer";
}

export interface PagedList<T, F> {
  /** null until the first page has arrived. */
  rows: T[] | null;
  next: string | null;
  busy: boolean;
  error: string | null;
  /** For a page's own failures (an action on a row), shown where the list's are. */
  setError: Dispatch<StateUpdater<string | null>>;
  /** The first page for `filter` (replacing the rows), or the page at `cursor` (appended). Never rejects. */
  load: (filter: F, cursor: string | null) => Promise<void>;
}

/**
 * A "Load more" list. Only the newest request may touch the state: an answer that arrives after a
 * newer request started (a new search while a page is loading), or after unmount, is dropped.
 * `load` is stable, so a page can put it in an effect's dependencies.
 */
export function usePagedList<T, F, P extends Page<T> = Page<T>>(
  loader: (filter: F, cursor: string | null) => Promise<P & Page<T>>,
  options: PagedListOptions<P> = {},
): PagedList<T, F> {
  const [rows, setRows] = useState<T[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const generation = useRef(0);
  // The latest loader and options, so `load` can stay stable while pages pass fresh closures.
  const latest = useRef({ loader, options });
  latest.current = { loader, options };

  const load = useCallback(async (filter: F, cursor: string | null): Promise<void> => {
    const { loader, options } = latest.current;
    const clearOnAnswer = options.clearErrorOn === "answer";
    const mine = ++generation.current;
    setBusy(true);
    if (!clearOnAnswer) setError(null);
    try {
      const page = await loader(filter, cursor);
      if (mine !== generation.current) return;
      setRows((before) => (cursor === null || before === null ? page.rows : [...before, ...page.rows]));
      setNext(page.next);
      options.onPage?.(page, cursor);
      if (clearOnAnswer) setError(null);
    } catch (e) {
      if (mine === generation.current) setError(messageOf(e));
    } finally {
      if (mine === generation.current) setBusy(false);
    }
  }, []);

  useEffect(
    () => () => {
      generation.current++;
    },
    [],
  );

  return { rows, next, busy, error, setError, load };
}
