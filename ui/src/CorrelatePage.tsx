import { useMemo, useState } from 'preact/hooks';
import { api, qs } from './api';
import { Chart } from './Chart';
import type { PageProps } from './App';
import { fmtLabels, fmtTime, fmtValue } from './format';
import { useLoad } from './hooks';
import { NativeRecord, severityLevel } from './loki';
import { TraceWaterfall } from './TraceWaterfall';
import { fullTraceID } from './TracesPage';
import { CorrelateSpan, fromCorrelate } from './waterfall';

interface Answer {
  traceID: string;
  trace: null | { rootServiceName: string; rootSpanName: string; spanCount: number; errorCount: number; services: string[]; spans: CorrelateSpan[] };
  logs: NativeRecord[] | null;
  exemplars: { seriesLabels: Record<string, string>; labels: Record<string, string>; spanID?: string; timestamp: string; value: number }[] | null;
}

export function CorrelatePage({ state, link }: PageProps) {
  const id = state.params.trace ?? '';
  const [text, setText] = useState(id);
  const res = useLoad<Answer>(id ? () => api('/api/v1/correlate/' + encodeURIComponent(id)).then((r) => r.data) : null, [id, state.params.tenant]);
  const a = res.data;
  const bySpan = new Map<string, NativeRecord[]>();
  for (const l of a?.logs ?? []) {
    const k = l.spanId ?? '';
    bySpan.set(k, [...(bySpan.get(k) ?? []), l]);
  }
  // Once per answer: the waterfall lays out (and virtualises) by identity.
  const spans = useMemo(() => fromCorrelate(a?.trace?.spans ?? []), [a]);
  const spanIDs = new Set((a?.trace?.spans ?? []).map((s) => s.spanID));
  const orphanLogs = (a?.logs ?? []).filter((l) => !l.spanId || !spanIDs.has(l.spanId));
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); location.hash = link('correlate', { trace: fullTraceID(text.trim()) }); }}>
        <input class="query" placeholder="trace ID (32 hex digits)" value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit">Correlate</button>
      </form>
      {res.loading && <p class="muted">loading…</p>}
      {res.error && <p class="error">{res.error}</p>}
      {a && (
        <>
          <h2>
            {a.trace ? `${a.trace.rootServiceName || '?'}: ${a.trace.rootSpanName || '(root span not received)'}` : 'No spans stored for this trace'}{' '}
            <span class="muted">
              {a.trace ? `${a.trace.spanCount} spans, ${a.trace.errorCount} errors, ` : ''}
              {(a.logs ?? []).length} log lines, {(a.exemplars ?? []).length} exemplars
            </span>{' '}
            <a href={link('trace', { id: a.traceID })}>trace view</a>
          </h2>
          {a.trace && (
            <TraceWaterfall
              spans={spans}
              under={(s) => (bySpan.get(s.spanID) ?? []).length > 0 && <Logs logs={bySpan.get(s.spanID)!} />}
              underLines={(s) => bySpan.get(s.spanID)?.length ?? 0}
              traceHref={(t) => link('correlate', { trace: t })}
            />
          )}
          {orphanLogs.length > 0 && (
            <>
              <h3>Log lines not tied to a stored span</h3>
              <Logs logs={orphanLogs} />
            </>
          )}
          {a.trace && a.trace.services.length > 0 && a.trace.spans.length > 0 && (
            <ServicesRED services={a.trace.services} at={Math.min(...a.trace.spans.map((s) => Date.parse(s.startTime))) / 1000} link={link} />
          )}
          <h3>Exemplars pointing at this trace</h3>
          {(a.exemplars ?? []).length ? (
            <table class="grid">
              <thead><tr><th>Series</th><th>Time</th><th class="num">Value</th><th>Span</th></tr></thead>
              <tbody>
                {(a.exemplars ?? []).map((e) => (
                  <tr>
                    <td class="mono"><a href={link('metrics', { query: fmtLabels(e.seriesLabels) })}>{fmtLabels(e.seriesLabels)}</a></td>
                    <td>{fmtTime(Date.parse(e.timestamp))}</td>
                    <td class="num">{e.value}</td>
                    <td class="mono">{e.spanID ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="muted">None.</p>
          )}
        </>
      )}
    </section>
  );
}

function Logs({ logs }: { logs: NativeRecord[] }) {
  return (
    <div class="spanlogs">
      {logs.map((l) => {
        const lvl = severityLevel(l.severityNumber, l.severityText);
        return (
          <div class={'logline lvl-border-' + lvl} title={Object.entries(l.attributes ?? {}).map(([k, v]) => `${k}=${fmtValue(v)}`).join('\n')}>
            <span class="ts">{fmtTime(Date.parse(l.timestamp))}</span>
            <span class={'lvl lvl-' + lvl}>{lvl}</span>
            <span class="line">{fmtValue(l.body)}</span>
          </div>
        );
      })}
    </div>
  );
}

// promRegexQuote escapes a value for a PromQL regex matcher in a string.
export function promRegexQuote(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/["\\]/g, '\\$&');
}

// redQueries are the rate, error rate and p99 latency of services from the
// span metrics (Tempo's metrics-generator names, which Sightline writes).
export function redQueries(services: string[]): { title: string; query: string }[] {
  const sel = `service=~"${services.map(promRegexQuote).join('|')}"`;
  return [
    { title: 'Requests per second', query: `sum by (service) (rate(traces_spanmetrics_calls_total{${sel}, span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"}[2m]))` },
    { title: 'Errors per second', query: `sum by (service) (rate(traces_spanmetrics_calls_total{${sel}, status_code="STATUS_CODE_ERROR"}[2m]))` },
    { title: 'p99 latency (s)', query: `histogram_quantile(0.99, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{${sel}}[2m])))` },
  ];
}

// ServicesRED draws the services' request rate, errors and latency over
// the half hour around the trace (a dashed line marks it), so a slow or
// failed request can be told apart from a bad minute for its services.
function ServicesRED({ services, at, link }: { services: string[]; at: number; link: PageProps['link'] }) {
  const end = Math.min(at + 15 * 60, Date.now() / 1000);
  const start = at - 15 * 60;
  const step = 15;
  const qs_ = redQueries(services);
  const res = useLoad(
    () => Promise.all(qs_.map((q) => api('/api/v1/query_range?' + qs({ query: q.query, start: end - step * Math.ceil((end - start) / step), end, step })).then((r) => r.data.result))),
    [services.join(','), at],
  );
  return (
    <>
      <h3>The services around the trace's time</h3>
      {res.error && <p class="error">{res.error}</p>}
      {res.data && res.data.every((r) => !r.length) && <p class="muted">No span metrics for these services in this half hour.</p>}
      {res.data && res.data.some((r) => r.length) && (
        <div class="red">
          {qs_.map((q, i) => (
            <div>
              <a href={link('metrics', { query: q.query, from: String(Math.floor(start)), to: String(Math.ceil(end)) })}>{q.title}</a>
              <Chart result={res.data![i]} start={start} end={end} height={160} marker={at} legend={(m) => m.service ?? ''} />
            </div>
          ))}
        </div>
      )}
    </>
  );
}
