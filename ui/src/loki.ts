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
