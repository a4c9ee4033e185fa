import { useEffect, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
}

// useLoad runs load whenever deps change and keeps only the latest answer:
// a slow earlier query must not overwrite a newer one. A load that fetches
// in steps may show what it has so far (progress) and should stop when
// signal aborts (the deps changed, or the page went away).
export function useLoad<T>(load: ((signal: AbortSignal, progress: (partial: T) => void) => Promise<T>) | null, deps: unknown[]): Loaded<T> {
  const [s, setS] = useState<Loaded<T>>({ loading: false });
  useEffect(() => {
    if (!load) {
      setS({ loading: false });
      return;
    }
    let live = true;
    const ctl = new AbortController();
    setS((o) => ({ data: o.data, loading: true }));
    load(ctl.signal, (data) => live && setS({ data, loading: true })).then(
      (data) => live && setS({ data, loading: false }),
      (e) => live && setS({ error: String(e.message ?? e), loading: false }),
    );
    return () => {
      live = false;
      ctl.abort();
    };
  }, deps);
  return s;
}
