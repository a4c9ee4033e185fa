import { useState } from 'preact/hooks';
import { api } from './api';
import type { PageProps } from './App';
import { fmtLabels, fmtTime, fmtValue } from './format';
import { useLoad } from './hooks';
import { levelOf } from './loki';
import { TraceWaterfall } from './TraceWaterfall';
import { CorrelateSpan, fromCorrelate } from './waterfall';

interface CLog {
  timestamp: string;
  severityNumber: number;
  severityText: string;
  body: unknown;
  traceId?: string;
  spanId?: string;
  resource: Record<string, unknown>;
  attributes: Record<string, unknown>;
}

interface Answer {
  traceID: string;
  trace: null | { rootServiceName: string; rootSpanName: string; spanCount: number; errorCount: number; services: string[]; spans: CorrelateSpan[] };
  logs: CLog[] | null;
  exemplars: { seriesLabels: Record<string, string>; labels: Record<string, string>; spanID?: string; timestamp: string; value: number }[] | null;
}

// severityLevel maps an OTLP severity number to the level names the log
// page colours by.
function severityLevel(l: CLog): string {
  const n = l.severityNumber;
  if (n >= 21) return 'fatal';
  if (n >= 17) return 'error';
  if (n >= 13) return 'warn';
  if (n >= 9) return 'info';
  if (n >= 5) return 'debug';
  if (n >= 1) return 'trace';
  return levelOf({ level: l.severityText });
}

export function CorrelatePage({ state, link }: PageProps) {
  const id = state.params.trace ?? '';
  const [text, setText] = useState(id);
  const res = useLoad<Answer>(id ? () => api('/api/v1/correlate/' + encodeURIComponent(id)).then((r) => r.data) : null, [id, state.params.tenant]);
  const a = res.data;
  const bySpan = new Map<string, CLog[]>();
  for (const l of a?.logs ?? []) {
    const k = l.spanId ?? '';
    bySpan.set(k, [...(bySpan.get(k) ?? []), l]);
  }
  const spanIDs = new Set((a?.trace?.spans ?? []).map((s) => s.spanID));
  const orphanLogs = (a?.logs ?? []).filter((l) => !l.spanId || !spanIDs.has(l.spanId));
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); location.hash = link('correlate', { trace: text.trim() }); }}>
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
              spans={fromCorrelate(a.trace.spans)}
              under={(s) => (bySpan.get(s.spanID) ?? []).length > 0 && <Logs logs={bySpan.get(s.spanID)!} />}
            />
          )}
          {orphanLogs.length > 0 && (
            <>
              <h3>Log lines not tied to a stored span</h3>
              <Logs logs={orphanLogs} />
            </>
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

function Logs({ logs }: { logs: CLog[] }) {
  return (
    <div class="spanlogs">
      {logs.map((l) => {
        const lvl = severityLevel(l);
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
