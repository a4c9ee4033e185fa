// URL state: the page and its parameters (query, range, tenant, ...) live in
// the location hash, "#/<page>?k=v&...", so that any view can be shared as
// a link and the server needs no route per page.

export interface UrlState {
  page: string;
  params: Record<string, string>;
}

export const pages = ['metrics', 'logs', 'traces', 'trace', 'correlate', 'alerts', 'status'] as const;
export const defaultPage = 'metrics';

export function decodeState(hash: string): UrlState {
  let h = hash.startsWith('#') ? hash.slice(1) : hash;
  if (h.startsWith('/')) h = h.slice(1);
  const q = h.indexOf('?');
  const page = (q < 0 ? h : h.slice(0, q)) || defaultPage;
  const params: Record<string, string> = {};
  if (q >= 0) {
    new URLSearchParams(h.slice(q + 1)).forEach((v, k) => {
      params[k] = v;
    });
  }
  return { page, params };
}

export function encodeState(s: UrlState): string {
  const sp = new URLSearchParams();
  // Sorted keys: the same state is always the same link.
  for (const k of Object.keys(s.params).sort()) {
    const v = s.params[k];
    if (v !== undefined && v !== '') sp.set(k, v);
  }
  const qs = sp.toString();
  return '#/' + s.page + (qs ? '?' + qs : '');
}

const units: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

// parseTime reads "now", "now-15m", RFC3339 or Unix seconds/milliseconds
// into Unix milliseconds; NaN when it is none of them.
export function parseTime(s: string, now: number): number {
  const t = s.trim();
  if (t === '' || t === 'now') return now;
  const rel = /^now-(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (rel) return now - parseFloat(rel[1]) * units[rel[2]];
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = parseFloat(t);
    return n > 1e11 ? n : n * 1000; // seconds until 5138 AD, milliseconds after
  }
  const d = Date.parse(t);
  return isNaN(d) ? NaN : d;
}

// parseDuration reads a Prometheus duration ("30s", "5m", "1h") into
// milliseconds; NaN if it is not one.
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(s.trim());
  return m ? parseFloat(m[1]) * units[m[2]] : NaN;
}

export interface Range {
  start: number; // Unix ms
  end: number;
}

export function resolveRange(params: Record<string, string>, now: number): Range {
  let start = parseTime(params.from || 'now-1h', now);
  let end = parseTime(params.to || 'now', now);
  if (isNaN(end)) end = now;
  if (isNaN(start) || start >= end) start = end - 3600e3;
  return { start, end };
}

// autoStep picks a step that gives about `points` points over the range,
// rounded to a whole second, at least 1 s.
export function autoStep(r: Range, points = 250): number {
  return Math.max(1, Math.round((r.end - r.start) / 1000 / points));
}
