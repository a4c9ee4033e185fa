// The span model of the trace views and its waterfall layout, from either
// Tempo's trace JSON (/api/traces/<id>) or Sightline's correlate answer.

export interface WEvent {
  ms: number;
  name: string;
  attributes: Record<string, unknown>;
}

export interface WLink {
  traceID: string; // hex
  spanID: string;
  attributes: Record<string, unknown>;
}

export interface WSpan {
  spanID: string; // hex
  parentSpanID: string; // hex, "" for a root
  service: string;
  name: string;
  kind: string;
  startMs: number; // Unix ms, fractional
  durationMs: number;
  error: boolean;
  statusMessage: string;
  attributes: Record<string, unknown>;
  resource: Record<string, unknown>;
  events: WEvent[];
  links: WLink[];
}

export interface WRow {
  span: WSpan;
  depth: number;
  left: number; // fraction of the trace's duration
  width: number; // fraction, at least a hair so that 0-length spans show
}

export interface Layout {
  rows: WRow[];
  startMs: number;
  durationMs: number;
  services: string[];
}

// layout orders spans depth-first from the roots, children by start time,
// as Jaeger and Grafana draw them. A span whose parent is missing (not yet
// arrived, or dropped) is drawn as a root rather than hidden.
export function layout(spans: WSpan[]): Layout {
  const ids = new Set(spans.map((s) => s.spanID));
  const children = new Map<string, WSpan[]>();
  const roots: WSpan[] = [];
  for (const s of spans) {
    if (s.parentSpanID && ids.has(s.parentSpanID) && s.parentSpanID !== s.spanID) {
      const c = children.get(s.parentSpanID);
      if (c) c.push(s);
      else children.set(s.parentSpanID, [s]);
    } else roots.push(s);
  }
  const byStart = (a: WSpan, b: WSpan) => a.startMs - b.startMs || a.name.localeCompare(b.name);
  roots.sort(byStart);
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.startMs);
    end = Math.max(end, s.startMs + s.durationMs);
  }
  if (!spans.length) start = end = 0;
  const total = Math.max(end - start, 1e-6);
  const rows: WRow[] = [];
  const seen = new Set<string>();
  // An explicit stack, not recursion: a trace may hold thousands of spans
  // in one deep chain.
  const stack: [WSpan, number][] = roots.reverse().map((r) => [r, 0]);
  while (stack.length) {
    const [s, depth] = stack.pop()!;
    if (seen.has(s.spanID)) continue; // a cycle through duplicate IDs
    seen.add(s.spanID);
    rows.push({
      span: s,
      depth,
      left: (s.startMs - start) / total,
      width: Math.max(s.durationMs / total, 0.002),
    });
    const c = (children.get(s.spanID) ?? []).sort(byStart);
    for (let i = c.length - 1; i >= 0; i--) stack.push([c[i], depth + 1]);
  }
  const services = [...new Set(rows.map((r) => r.span.service))].sort();
  return { rows, startMs: start, durationMs: end - start, services };
}

const palette = ['#3b82f6', '#f59e0b', '#10b981', '#8b5cf6', '#ec4899', '#14b8a6', '#f97316', '#6366f1', '#84cc16', '#06b6d4'];

// colorOf gives a name a colour of the palette: its index in names when
// it is there (so the services of one trace, or the series of one chart,
// get distinct colours while there are enough), else a hash of the name.
export function colorOf(name: string, names?: string[]): string {
  const i = names ? names.indexOf(name) : -1;
  if (i >= 0) return palette[i % palette.length];
  let h = 0;
  for (let j = 0; j < name.length; j++) h = (h * 31 + name.charCodeAt(j)) >>> 0;
  return palette[h % palette.length];
}

export function b64ToHex(b64: string): string {
  if (!b64) return '';
  const bin = atob(b64);
  let out = '';
  for (let i = 0; i < bin.length; i++) out += bin.charCodeAt(i).toString(16).padStart(2, '0');
  return out;
}

interface OtlpValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string;
  doubleValue?: number | string;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: OtlpKV[] };
  bytesValue?: string;
}
interface OtlpKV {
  key: string;
  value: OtlpValue;
}

export function otlpValue(v: OtlpValue): unknown {
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(otlpValue);
  if (v.kvlistValue) return otlpAttrs(v.kvlistValue.values);
  if (v.bytesValue !== undefined) return v.bytesValue;
  return null;
}

export function otlpAttrs(kvs: OtlpKV[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs ?? []) out[kv.key] = otlpValue(kv.value);
  return out;
}

// nsToMs keeps sub-millisecond precision from a nanosecond string.
function nsToMs(ns: string | undefined): number {
  if (!ns) return 0;
  const n = ns.padStart(7, '0');
  return Number(n.slice(0, -6)) + Number(n.slice(-6)) / 1e6;
}

interface TempoTrace {
  batches?: {
    resource?: { attributes?: OtlpKV[] };
    scopeSpans?: {
      spans?: {
        spanId?: string;
        parentSpanId?: string;
        name?: string;
        kind?: string | number;
        startTimeUnixNano?: string;
        endTimeUnixNano?: string;
        attributes?: OtlpKV[];
        events?: { timeUnixNano?: string; name?: string; attributes?: OtlpKV[] }[];
        links?: { traceId?: string; spanId?: string; attributes?: OtlpKV[] }[];
        status?: { code?: string | number; message?: string };
      }[];
    }[];
  }[];
}

export function fromTempo(t: TempoTrace): WSpan[] {
  const out: WSpan[] = [];
  for (const b of t.batches ?? []) {
    const resource = otlpAttrs(b.resource?.attributes);
    const service = String(resource['service.name'] ?? 'unknown');
    for (const ss of b.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        const startMs = nsToMs(s.startTimeUnixNano);
        const code = s.status?.code;
        out.push({
          spanID: b64ToHex(s.spanId ?? ''),
          parentSpanID: b64ToHex(s.parentSpanId ?? ''),
          service,
          name: s.name ?? '',
          kind: String(s.kind ?? '').replace('SPAN_KIND_', '').toLowerCase(),
          startMs,
          durationMs: Math.max(0, nsToMs(s.endTimeUnixNano) - startMs),
          error: code === 'STATUS_CODE_ERROR' || code === 2,
          statusMessage: s.status?.message ?? '',
          attributes: otlpAttrs(s.attributes),
          resource,
          events: (s.events ?? []).map((e) => ({ ms: nsToMs(e.timeUnixNano), name: e.name ?? '', attributes: otlpAttrs(e.attributes) })),
          links: (s.links ?? []).map((k) => ({ traceID: b64ToHex(k.traceId ?? ''), spanID: b64ToHex(k.spanId ?? ''), attributes: otlpAttrs(k.attributes) })),
        });
      }
    }
  }
  return out;
}

export interface CorrelateSpan {
  spanID: string;
  parentSpanID?: string;
  serviceName: string;
  name: string;
  kind: string;
  status: string;
  statusMessage?: string;
  startTime: string;
  durationMs: number;
  attributes: Record<string, unknown> | null;
  resource?: Record<string, unknown> | null;
  events?: { time: string; name: string; attributes: Record<string, unknown> | null }[] | null;
  links?: { traceID: string; spanID: string; attributes: Record<string, unknown> | null }[] | null;
  logCount: number;
}

export function fromCorrelate(spans: CorrelateSpan[]): WSpan[] {
  return spans.map((s) => ({
    spanID: s.spanID,
    parentSpanID: s.parentSpanID ?? '',
    service: s.serviceName || 'unknown',
    name: s.name,
    kind: s.kind,
    startMs: Date.parse(s.startTime) + subMs(s.startTime),
    durationMs: s.durationMs,
    error: s.status === 'error' || s.status === 'STATUS_CODE_ERROR',
    statusMessage: s.statusMessage ?? '',
    attributes: s.attributes ?? {},
    resource: s.resource ?? {},
    events: (s.events ?? []).map((e) => ({ ms: Date.parse(e.time) + subMs(e.time), name: e.name, attributes: e.attributes ?? {} })),
    links: (s.links ?? []).map((k) => ({ traceID: k.traceID, spanID: k.spanID, attributes: k.attributes ?? {} })),
  }));
}

// subMs is the part of an RFC3339 time below the millisecond, which
// Date.parse drops.
function subMs(t: string): number {
  const m = /\.\d{3}(\d+)/.exec(t);
  return m ? Number('0.' + m[1]) : 0;
}
