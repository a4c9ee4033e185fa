import { useState } from 'preact/hooks';
import { api, qs } from './api';
import type { PageProps } from './App';
import { fmtDuration, fmtTime } from './format';
import { useLoad } from './hooks';
import { resolveRange } from './state';
import { TraceWaterfall } from './TraceWaterfall';
import { ServiceGraph } from './ServiceGraph';
import { fromTempo } from './waterfall';
import { buildTraceQL, TraceSearch } from './traceql';

// fullTraceID writes a trace ID with its 32 hex digits: Tempo's search
// answers leave out leading zeros, which the correlate API does not take.
export function fullTraceID(id: string): string {
  return /^[0-9a-fA-F]{1,32}$/.test(id) ? id.toLowerCase().padStart(32, '0') : id;
}

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
  // search sets the page's parameters, keeping those not given (the
  // service graph folded or not among them).
  const search = (p: Record<string, string>) => set({ q, limit, graph: state.params.graph ?? '', ...p });
  const res = useLoad<SearchTrace[]>(
    q
      ? () =>
          api('/api/search?' + qs({ q, limit, start: Math.floor(range.start / 1000), end: Math.ceil(range.end / 1000) })).then((r) => r.traces ?? [])
      : null,
    [q, limit, state.params.from, state.params.to, state.params.tenant],
  );
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); search({ q: text }); }}>
        <input class="query" placeholder='TraceQL, e.g. { resource.service.name = "checkout" && status = error }' value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <select value={limit} onChange={(e) => search({ limit: (e.target as HTMLSelectElement).value })}>
          {['20', '50', '100', '500'].map((l) => <option value={l}>{l} traces</option>)}
        </select>
        <button type="submit">Search</button>
      </form>
      <SearchBuilder tenant={state.params.tenant ?? ''} onSearch={(query) => {
        setText(query);
        search({ q: query });
      }} />
      <form class="editor" onSubmit={(e) => {
        e.preventDefault();
        const id = (new FormData(e.target as HTMLFormElement).get('id') as string).trim();
        if (id) location.hash = link('trace', { id: fullTraceID(id) });
      }}>
        <input name="id" class="query" placeholder="or open a trace ID" />
        <button type="submit">Open</button>
      </form>
      <details open={state.params.graph !== 'off'} onToggle={(e) => {
        const open = (e.target as HTMLDetailsElement).open;
        if (open !== (state.params.graph !== 'off')) search({ graph: open ? '' : 'off' });
      }}>
        <summary>Service graph</summary>
        {state.params.graph !== 'off' && <ServiceGraph params={state.params} link={link} />}
      </details>
      {res.loading && <p class="muted">searching…</p>}
      {res.error && <p class="error">{res.error}</p>}
      {res.data && (
        <table class="grid">
          <thead><tr><th>Trace</th><th>Root service</th><th>Root span</th><th>Start</th><th class="num">Duration</th><th class="num">Matched</th><th /></tr></thead>
          <tbody>
            {res.data.map((t) => (
              <tr>
                <td class="mono"><a href={link('trace', { id: fullTraceID(t.traceID) })}>{fullTraceID(t.traceID)}</a></td>
                <td>{t.rootServiceName ?? '<root span not yet received>'}</td>
                <td>{t.rootTraceName ?? ''}</td>
                <td>{t.startTimeUnixNano ? fmtTime(Number(t.startTimeUnixNano.slice(0, -6))) : ''}</td>
                <td class="num">{t.durationMs ? fmtDuration(t.durationMs) : '<1ms' /* Tempo's search counts whole ms */}</td>
                <td class="num">{(t.spanSets ?? []).reduce((a, s) => a + (s.matched ?? 0), 0)}</td>
                <td><a href={link('correlate', { trace: fullTraceID(t.traceID) })}>correlate</a></td>
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
      {res.data && <TraceWaterfall spans={res.data} traceHref={(t) => link('trace', { id: t })} />}
    </section>
  );
}

// SearchBuilder covers the common searches (service, span name, status,
// duration) without writing TraceQL; it writes the query into the editor,
// where it can be refined. Services and span names come from the Tempo tag
// API, span names narrowed to the chosen service.
function SearchBuilder({ tenant, onSearch }: { tenant: string; onSearch: (q: string) => void }) {
  const [b, setB] = useState<TraceSearch>({ service: '', name: '', status: '', minDuration: '', maxDuration: '' });
  const values = (tag: string, q?: string) => () =>
    api(`/api/v2/search/tag/${tag}/values?` + qs({ q })).then((r) => (r.tagValues ?? []).map((v: { value: string }) => v.value).sort() as string[]);
  const services = useLoad(values('resource.service.name'), [tenant]);
  const names = useLoad(values('name', b.service ? buildTraceQL({ ...b, name: '', status: '', minDuration: '', maxDuration: '' }) : undefined), [tenant, b.service]);
  const field = (k: keyof TraceSearch) => (e: Event) => {
    const v = (e.target as HTMLInputElement).value;
    setB((o) => ({ ...o, [k]: v })); // from the latest state: events may come before a render
  };
  return (
    <form class="editor builder" onSubmit={(e) => { e.preventDefault(); onSearch(buildTraceQL(b)); }}>
      <select aria-label="service" value={b.service} onChange={field('service')}>
        <option value="">any service</option>
        {(services.data ?? []).map((s) => <option value={s}>{s}</option>)}
      </select>
      <input aria-label="span name" list="span-names" placeholder="span name" value={b.name} onInput={field('name')} />
      <datalist id="span-names">{(names.data ?? []).map((n) => <option value={n} />)}</datalist>
      <select aria-label="status" value={b.status} onChange={field('status')}>
        <option value="">any status</option>
        <option value="error">error</option>
        <option value="ok">ok</option>
        <option value="unset">unset</option>
      </select>
      <input aria-label="min duration" size={8} placeholder="min, 100ms" value={b.minDuration} onInput={field('minDuration')} />
      <input aria-label="max duration" size={8} placeholder="max, 2s" value={b.maxDuration} onInput={field('maxDuration')} />
      <button type="submit">Search</button>
      <code class="muted">{buildTraceQL(b)}</code>
    </form>
  );
}
