import { useEffect, useState } from 'preact/hooks';

export interface Loaded<T> {
  data?: T;
  error?: string;
  loading: boolean;
}

// useLoad runs load whenever deps change and keeps only the latest answer:
// a slow earlier query must not overwrite a newer one.
export function useLoad<T>(load: (() => Promise<T>) | null, deps: unknown[]): Loaded<T> {
  const [s, setS] = useState<Loaded<T>>({ loading: false });
  useEffect(() => {
    if (!load) {
      setS({ loading: false });
      return;
    }
    let live = true;
    setS((o) => ({ data: o.data, loading: true }));
    load().then(
      (data) => live && setS({ data, loading: false }),
      (e) => live && setS({ error: String(e.message ?? e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return s;
}
