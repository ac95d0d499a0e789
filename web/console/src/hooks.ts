import { type Inputs, useCallback, useEffect, useRef, useState } from "preact/hooks";
import { messageOf } from "./api.ts";

export interface Async<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  reload: () => Promise<void>;
}

/**
 * Loads on mount and whenever `deps` change; a reload keeps the last data on screen (so a 5 s
 * refresh does not flash), and an answer that arrives after a newer request started is dropped.
 */
export function useAsync<T>(load: () => Promise<T>, deps: Inputs): Async<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const generation = useRef(0);
  const alive = useRef(true);

  const reload = useCallback(async () => {
    const mine = ++generation.current;
    setLoading(true);
    try {
      const value = await load();
      if (alive.current && mine === generation.current) {
        setData(value);
        setError(null);
      }
    } catch (e) {
      if (alive.current && mine === generation.current) setError(messageOf(e));
    } finally {
      if (alive.current && mine === generation.current) setLoading(false);
    }
  }, deps);

  useEffect(() => {
    alive.current = true;
    void reload();
    return () => {
      alive.current = false;
    };
  }, [reload]);

  return { data, error, loading, reload };
}

/** Calls `tick` every `ms` while the tab is visible, and once on coming back; stops on unmount. */
export function usePolling(tick: () => unknown, ms: number, enabled = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!enabled) return;
    const timer = setInterval(() => {
      if (document.visibilityState === "visible") latest.current();
    }, ms);
    const onVisible = (): void => {
      if (document.visibilityState === "visible") latest.current();
    };
    document.addEventListener("visibilitychange", onVisible);
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", onVisible);
    };
  }, [ms, enabled]);
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Email console`;
  }, [title]);
}

/** `value`, once it has stopped changing for `ms`. */
export function useDebounced<T>(value: T, ms: number): T {
  const [settled, setSettled] = useState(value);
  useEffect(() => {
    const timer = setTimeout(() => setSettled(value), ms);
    return () => clearTimeout(timer);
  }, [value, ms]);
  return settled;
}
