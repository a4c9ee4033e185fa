import { useState } from 'preact/hooks';
import { api, qs } from './api';
import type { PageProps } from './App';
import { fmtDuration, fmtTime } from './format';
import { useLoad } from './hooks';
import { resolveRange } from './state';
import { TraceWaterfall } from './TraceWaterfall';
import { fromTempo } from './waterfall';

interface SearchTrace {
  traceID: string;
  rootServiceName?: string;
  rootTraceName?: string;
  startTimeUnixNano?: string;
  durationMs?: number;
  spanSets?: { matched?: number }[];
}

export function TracesPage({ state, set, link }: PageProps) {
  const { q = '', limit = '20' } = state.params;
  const [text, setText] = useState(q || '{ }');
  const range = resolveRange(state.params, Date.now());
  const res = useLoad<SearchTrace[]>(
    q
      ? () =>
          api('/api/search?' + qs({ q, limit, start: Math.floor(range.start / 1000), end: Math.ceil(range.end / 1000) })).then((r) => r.traces ?? [])
      : null,
    [q, limit, state.params.from, state.params.to, state.params.tenant],
  );
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); set({ q: text, limit }); }}>
        <input class="query" placeholder='TraceQL, e.g. { resource.service.name = "checkout" && status = error }' value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <select value={limit} onChange={(e) => set({ q, limit: (e.target as HTMLSelectElement).value })}>
          {['20', '50', '100', '500'].map((l) => <option value={l}>{l} traces</option>)}
        </select>
        <button type="submit">Search</button>
      </form>
      <form class="editor" onSubmit={(e) => {
        e.preventDefault();
        const id = (new FormData(e.target as HTMLFormElement).get('id') as string).trim();
        if (id) location.hash = link('trace', { id });
      }}>
        <input name="id" class="query" placeholder="or open a trace ID" />
        <button type="submit">Open</button>
      </form>
      {res.loading && <p class="muted">searching…</p>}
      {res.error && <p class="error">{res.error}</p>}
      {res.data && (
        <table class="grid">
          <thead><tr><th>Trace</th><th>Root service</th><th>Root span</th><th>Start</th><th class="num">Duration</th><th class="num">Matched</th><th /></tr></thead>
          <tbody>
            {res.data.map((t) => (
              <tr>
                <td class="mono"><a href={link('trace', { id: t.traceID })}>{t.traceID}</a></td>
                <td>{t.rootServiceName ?? '<root span not yet received>'}</td>
                <td>{t.rootTraceName ?? ''}</td>
                <td>{t.startTimeUnixNano ? fmtTime(Number(t.startTimeUnixNano.slice(0, -6))) : ''}</td>
                <td class="num">{fmtDuration(t.durationMs ?? 0)}</td>
                <td class="num">{(t.spanSets ?? []).reduce((a, s) => a + (s.matched ?? 0), 0)}</td>
                <td><a href={link('correlate', { trace: t.traceID })}>correlate</a></td>
              </tr>
            ))}
            {!res.data.length && <tr><td colSpan={7} class="muted">No traces match.</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function TracePage({ state, link }: PageProps) {
  const id = state.params.id ?? '';
  const res = useLoad(id ? () => api('/api/traces/' + encodeURIComponent(id)).then(fromTempo) : null, [id, state.params.tenant]);
  return (
    <section>
      <h2>
        Trace <span class="mono">{id}</span> <a href={link('correlate', { trace: id })}>with its logs and exemplars →</a>
      </h2>
      {res.loading && <p class="muted">loading…</p>}
      {res.error && <p class="error">{/^404/.test(res.error) ? 'Trace not found.' : res.error}</p>}
      {res.data && <TraceWaterfall spans={res.data} />}
    </section>
  );
}
