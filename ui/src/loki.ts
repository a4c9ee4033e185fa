// Loki's query_range answer (streams, with categorize-labels) turned into
// the rows of the log list.

export interface LogRow {
  ts: string; // nanoseconds, as Loki sends them (beyond float precision)
  ms: number;
  line: string;
  labels: Record<string, string>;
  metadata: Record<string, string>;
  parsed: Record<string, string>;
  level: string;
  traceID: string;
  spanID: string;
  native?: boolean; // from the native search: labels are the resource, metadata the attributes
}

export interface Stream {
  stream: Record<string, string>;
  values: [string, string, { structuredMetadata?: Record<string, string>; parsed?: Record<string, string> }?][];
}

const traceKeys = ['trace_id', 'traceid', 'traceID', 'traceId'];
const spanKeys = ['span_id', 'spanid', 'spanID', 'spanId'];

function pick(keys: string[], ...maps: Record<string, string>[]): string {
  for (const m of maps) for (const k of keys) if (m[k]) return m[k];
  return '';
}

export function levelOf(labels: Record<string, string>): string {
  return (labels.detected_level || labels.level || labels.severity || 'unknown').toLowerCase();
}

// compareNs orders two decimal nanosecond strings without losing precision.
export function compareNs(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function parseStreams(result: Stream[], direction: 'backward' | 'forward'): LogRow[] {
  const rows: LogRow[] = [];
  for (const s of result) {
    for (const v of s.values) {
      const metadata = v[2]?.structuredMetadata ?? {};
      const parsed = v[2]?.parsed ?? {};
      const all = { ...s.stream, ...metadata, ...parsed };
      rows.push({
        ts: v[0],
        ms: Number(v[0].slice(0, -6)) || 0,
        line: v[1],
        labels: s.stream,
        metadata,
        parsed,
        level: levelOf(all),
        traceID: pick(traceKeys, metadata, parsed, s.stream),
        spanID: pick(spanKeys, metadata, parsed, s.stream),
      });
    }
  }
  const sign = direction === 'backward' ? -1 : 1;
  rows.sort((a, b) => sign * compareNs(a.ts, b.ts));
  return rows;
}

// volumeQuery is the query of the volume histogram for a LogQL log query:
// Grafana's, which Sightline answers from stored columns.
export function volumeQuery(logQuery: string, stepSeconds: number): string {
  return `sum by (level, detected_level) (count_over_time(${logQuery} | drop __error__ [${stepSeconds}s]))`;
}

export interface VolumeBucket {
  t: number; // Unix seconds
  counts: Record<string, number>;
}

// volumeBuckets turns the matrix of volumeQuery into buckets by time,
// each with its count per level.
export function volumeBuckets(matrix: { metric: Record<string, string>; values: [number, string][] }[]): VolumeBucket[] {
  const byT = new Map<number, Record<string, number>>();
  for (const s of matrix) {
    const lvl = levelOf(s.metric);
    for (const [t, v] of s.values) {
      let c = byT.get(t);
      if (!c) byT.set(t, (c = {}));
      c[lvl] = (c[lvl] ?? 0) + Number(v);
    }
  }
  return [...byT.entries()].sort((a, b) => a[0] - b[0]).map(([t, counts]) => ({ t, counts }));
}

// The most lines one query_range call returns (Sightline's default
// -logs.query.max-entries, as Loki's max_entries_limit_per_query): a
// larger limit is fetched in pages of this many.
export const pageSize = 5000;

// The most lines the logs page holds: the list is virtualised, so this
// bounds memory, not drawing.
export const maxLines = 100_000;

// nextPage is the range of the page after rows (in the query's order):
// backward, up to and including the oldest line's nanosecond; forward,
// from the newest line's. That nanosecond is asked again because more
// lines may share it than the page held; the lines already seen are left
// out by rowKey.
export function nextPage(rows: LogRow[], direction: 'backward' | 'forward', start: string, end: string): { start: string; end: string } {
  const lastTs = rows[rows.length - 1].ts;
  return direction === 'backward' ? { start, end: (BigInt(lastTs) + 1n).toString() } : { start: lastTs, end };
}

export function rowKey(r: LogRow): string {
  return r.ts + '\u0000' + r.line + '\u0000' + JSON.stringify(r.labels) + JSON.stringify(r.metadata);
}

// mergePage appends the rows of the next page to rows, leaving out the
// lines of the boundary nanosecond that rows already ends with (both
// pages hold them), and returns how many were new. Only the boundary's
// lines are compared, so merging costs the page, not the whole list.
export function mergePage(rows: LogRow[], page: LogRow[]): number {
  const seen = new Set<string>();
  const boundary = rows.length ? rows[rows.length - 1].ts : '';
  for (let i = rows.length - 1; i >= 0 && rows[i].ts === boundary; i--) seen.add(rowKey(rows[i]));
  let added = 0;
  for (const r of page) {
    if (r.ts === boundary && seen.has(rowKey(r))) continue;
    rows.push(r);
    added++;
  }
  return added;
}

// boundaryCount is how many of rows' last lines share its last nanosecond:
// the next page holds them again.
export function boundaryCount(rows: LogRow[]): number {
  let n = 0;
  for (let i = rows.length - 1; i >= 0 && rows[i].ts === rows[rows.length - 1].ts; i--) n++;
  return n;
}

// rfc3339ToNs reads an RFC3339 time with up to nine fraction digits into
// decimal Unix nanoseconds, exactly (Date.parse stops at milliseconds).
export function rfc3339ToNs(t: string): string {
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) return String(BigInt(Date.parse(t) || 0) * 1_000_000n);
  const secs = BigInt(Date.parse(m[1] + m[3]) / 1000);
  return String(secs * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0').slice(0, 9)));
}

// NativeRecord is a record of Sightline's native search
// (/api/v1/logs/search), every OTLP field.
export interface NativeRecord {
  timestamp: string;
  severityNumber: number;
  severityText: string;
  body: unknown;
  traceId?: string;
  spanId?: string;
  resource: Record<string, unknown>;
  scope: { name: string; version?: string };
  attributes: Record<string, unknown>;
}

// severityLevel names an OTLP severity number as the level colours do.
export function severityLevel(n: number, text: string): string {
  if (n >= 21) return 'fatal';
  if (n >= 17) return 'error';
  if (n >= 13) return 'warn';
  if (n >= 9) return 'info';
  if (n >= 5) return 'debug';
  if (n >= 1) return 'trace';
  return levelOf({ level: text });
}

const str = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
const strMap = (m: Record<string, unknown>) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, str(v)]));

// nativeRows turns native records into rows of the log list: the resource
// in place of stream labels, the attributes as metadata, the scope as a
// field of its own.
export function nativeRows(recs: NativeRecord[]): LogRow[] {
  return recs.map((r) => {
    const ts = rfc3339ToNs(r.timestamp);
    const scope: Record<string, string> = r.scope?.name ? { 'scope.name': r.scope.name, ...(r.scope.version ? { 'scope.version': r.scope.version } : {}) } : {};
    return {
      ts,
      ms: Number(ts.slice(0, -6)) || 0,
      line: str(r.body),
      labels: strMap(r.resource),
      metadata: { ...strMap(r.attributes), ...scope, ...(r.severityText ? { severity_text: r.severityText } : {}) },
      parsed: {},
      level: severityLevel(r.severityNumber, r.severityText),
      traceID: r.traceId ?? '',
      spanID: r.spanId ?? '',
      native: true,
    };
  });
}

// Lines are the rows of a query; stopped says why paging stopped short
// (a later page's error), the lines before it being kept.
export type Lines = LogRow[] & { stopped?: string };

// fetchLines fetches up to limit lines with page (one query of at most
// pageSize lines over [start, end) in nanoseconds, in direction's order),
// each page starting where the one before ended, showing each as it comes.

export async function fetchLines(page: (limit: number, start: string, end: string) => Promise<LogRow[]>, limit: number, direction: 'backward' | 'forward', start: string, end: string,
  signal: AbortSignal, progress: (rows: Lines) => void): Promise<Lines> {
  const rows: Lines = [];
  let r = { start, end };
  while (rows.length < limit && !signal.aborted) {
    const overlap = boundaryCount(rows);
    const want = Math.min(pageSize, limit - rows.length + overlap);
    let got: LogRow[];
    try {
      got = await page(want, r.start, r.end);
    } catch (e) {
      if (!rows.length || signal.aborted) throw e;
      const out: Lines = rows.slice(0, limit);
      out.stopped = String((e as Error).message ?? e);
      return out;
    }
    const added = mergePage(rows, got);
    // A short page is the last; a page of nothing new means more lines
    // share one nanosecond than a page holds, and paging cannot get past.
    if (got.length < want || added === 0) break;
    progress(rows.slice(0, limit));
    r = nextPage(rows, direction, start, end);
  }
  return rows.slice(0, limit);
}

