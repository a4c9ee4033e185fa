import { useEffect, useRef, useState } from 'preact/hooks';
import { api, qs } from './api';
import type { PageProps } from './App';
import { fmtTime } from './format';
import { useLoad } from './hooks';
import { fetchLines, Lines, LogRow, maxLines, nativeRows, parseStreams, volumeBuckets, volumeQuery, VolumeBucket } from './loki';
import { VirtualList } from './VirtualList';
import { autoStep, resolveRange } from './state';
import { levelOfQuery, serviceOfQuery, withLevel, withService } from './logql';

const levelOrder = ['fatal', 'critical', 'error', 'warn', 'warning', 'info', 'debug', 'trace', 'unknown'];

const nLines = (n: number) => `${n.toLocaleString('en')} line${n === 1 ? '' : 's'}`;

// msToNs writes Unix milliseconds as decimal nanoseconds, exactly.
const msToNs = (ms: number) => String(Math.round(ms)) + '000000';

// limits are the line counts offered; more than one query's worth
// (pageSize) is fetched in pages, up to maxLines.
const limits = ['100', '1000', '5000', '20000', '100000'];

// fetchPage is one call for the lines of a query: LogQL through Loki's
// query_range, or Sightline's native full-text search; rows in the
// query's order. start and end are Unix nanoseconds, decimal: [start, end).
function fetchPage(mode: string, query: string, limit: number, direction: 'backward' | 'forward', start: string, end: string, signal?: AbortSignal): Promise<LogRow[]> {
  if (mode === 'search') {
    // The native search's end is inclusive; this range's is not (as Loki's).
    return api('/api/v1/logs/search?' + qs({ query, limit, direction, start, end: (BigInt(end) - 1n).toString() }), { signal }).then((r) => nativeRows(r.data.records ?? []));
  }
  return api('/loki/api/v1/query_range?' + qs({ query, limit, direction, start, end }), {
    // Structured metadata apart from the stream's labels, as Grafana asks.
    headers: { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' },
    signal,
  }).then((r) => parseStreams(r.data.result, direction));
}

export function LogsPage({ state, set, link }: PageProps) {
  const { query = '', limit = '100', direction = 'backward', mode = 'logql' } = state.params;
  const [text, setText] = useState(query);
  // A query from the URL (a link, back and forward) replaces what is typed.
  useEffect(() => setText(query), [query]);
  const range = resolveRange(state.params, Date.now());
  const key = [mode, query, limit, direction, state.params.from, state.params.to, state.params.tenant];
  const params = (p: Record<string, string>) => set({ query, limit, direction, mode, ...p });
  const search = mode === 'search';
  // The filters edit the query itself, which then runs: what is shown is
  // always what the query (and the shared link) says.
  const run = (q: string) => {
    setText(q);
    params({ query: q });
  };
  const services = useLoad(
    search ? null : () => api('/loki/api/v1/label/service_name/values?' + qs({ start: range.start * 1e6, end: range.end * 1e6 })).then((r) => (r.data ?? []) as string[]),
    [mode, state.params.tenant, state.params.from, state.params.to],
  );
  const n = Math.min(maxLines, Math.max(1, parseInt(limit, 10) || 100));
  const dir = direction === 'forward' ? 'forward' : 'backward';
  const lines = useLoad<Lines>(
    query ? (signal, progress) => fetchLines((lim, from, to) => fetchPage(mode, query, lim, dir, from, to, signal), n, dir, msToNs(range.start), msToNs(range.end), signal, progress) : null,
    key,
  );
  const step = autoStep(range, 100);
  const volume = useLoad(
    query
      ? () => {
          // Steps end at the range's end, so the newest lines are counted:
          // in whole milliseconds, as nanoseconds, so that no float error
          // makes the range a hair short of its last step.
          const vStart = Math.round(range.end) - step * 1000 * Math.ceil((range.end - range.start) / 1000 / step);
          if (search) {
            // The native histogram counts from each step's start.
            return api('/api/v1/logs/histogram?' + qs({ query, start: msToNs(vStart), end: msToNs(range.end), step: step + 's' })).then((r) =>
              (r.data.buckets ?? []).map((b: { time: string; count: number }) => ({ t: Date.parse(b.time) / 1000 + step, counts: b.count ? { lines: b.count } : {} })),
            );
          }
          // Each step's count is that of the step before it.
          return api('/loki/api/v1/query_range?' + qs({ query: volumeQuery(query, step), start: msToNs(vStart), end: msToNs(range.end), step })).then((r) =>
            volumeBuckets(r.data.result),
          );
        }
      : null,
    key,
  );
  const [live, setLive] = useState(false);
  // Another query (or tenant) shows its own lines: live tail is started
  // again on it by hand.
  useEffect(() => setLive(false), [mode, query, state.params.tenant]);
  const switchMode = (m: string) => {
    if (m === mode) return;
    setText('');
    set({ limit, direction, mode: m, query: '' });
  };
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); params({ query: text }); }}>
        <span class="tabs mode">
          <button type="button" class={!search ? 'active' : ''} title="Loki's query language" onClick={() => switchMode('logql')}>LogQL</button>
          <button type="button" class={search ? 'active' : ''} title="Sightline's full-text search (bleve query-string syntax)" onClick={() => switchMode('search')}>Search</button>
        </span>
        <input class="query" placeholder={search ? 'full text, e.g. service.name:checkout AND "payment failed" AND severity_number:>=17' : 'LogQL, e.g. {service_name="checkout"} |= "timeout"'}
          value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        {!search && (
          <select aria-label="service" value={serviceOfQuery(query)} onChange={(e) => run(withService(text, (e.target as HTMLSelectElement).value))}>
            <option value="">any service</option>
            {(services.data ?? []).map((s) => <option value={s}>{s}</option>)}
          </select>
        )}
        <select aria-label="direction" value={direction} onChange={(e) => params({ direction: (e.target as HTMLSelectElement).value })}>
          <option value="backward">newest first</option>
          <option value="forward">oldest first</option>
        </select>
        <select aria-label="limit" value={limit} onChange={(e) => params({ limit: (e.target as HTMLSelectElement).value })}>
          {(limits.includes(limit) ? limits : [limit, ...limits]).map((l) => <option value={l}>{Number(l).toLocaleString('en')} lines</option>)}
        </select>
        <button type="submit">Run</button>
        <button type="button" class={'live' + (live ? ' active' : '')} disabled={!query || (!live && lines.loading)} title="poll for new lines every 1.5 s, after the newest line shown" onClick={() => setLive(!live)}>
          {live ? '■ Stop live' : '▶ Live'}
        </button>
      </form>
      {volume.error && <p class="error">volume: {volume.error}</p>}
      {volume.data && (
        <Volume buckets={volume.data} start={range.start / 1000} end={range.end / 1000} step={step} level={search ? '' : levelOfQuery(query)}
          onLevel={search ? undefined : (l) => run(withLevel(text, l === levelOfQuery(query) ? '' : l))} />
      )}
      {live && query ? (
        <LiveTail mode={mode} query={query} tenant={state.params.tenant ?? ''} since={lines.data?.length ? (dir === 'backward' ? lines.data[0].ts : lines.data[lines.data.length - 1].ts) : msToNs(Date.now())} link={link} />
      ) : (
        <>
          {lines.loading && <p class="muted">loading… {lines.data ? `${lines.data.length.toLocaleString('en')} lines so far` : ''}</p>}
          {lines.error && <p class="error">{lines.error}</p>}
          {lines.data?.stopped && <p class="error">Stopped after {nLines(lines.data.length)}: {lines.data.stopped}</p>}
          {lines.data && <LogList rows={lines.data} link={link} resetKey={key.join('\u0000')} />}
        </>
      )}
    </section>
  );
}

// tailBuffer bounds what live tail holds: the newest lines are kept.
export const tailBuffer = 10_000;

// LiveTail polls for lines newer than the newest it has (query_range, or
// the native search, forward from just after it) every 1.5 s; a poll
// starts when the one before has answered, so a slow server is not
// piled on. A WebSocket (Loki's /tail) cannot carry X-Scope-OrgID from a
// browser, so polling is what keeps each tenant to its own lines.
function LiveTail({ mode, query, tenant, since, link }: { mode: string; query: string; tenant: string; since: string; link: PageProps['link'] }) {
  const [rows, setRows] = useState<LogRow[]>([]);
  const [paused, setPaused] = useState(false);
  const [error, setError] = useState('');
  const [polls, setPolls] = useState(0);
  const newest = useRef(since);
  useEffect(() => {
    newest.current = since;
    setRows([]);
  }, [mode, query, tenant]);
  useEffect(() => {
    if (paused) return;
    let stop = false;
    const ctl = new AbortController();
    let timer = 0;
    const poll = async () => {
      try {
        const from = (BigInt(newest.current) + 1n).toString();
        const page = await fetchPage(mode, query, 1000, 'forward', from, msToNs(Date.now()), ctl.signal);
        if (stop) return;
        setError('');
        if (page.length) {
          newest.current = page[page.length - 1].ts;
          setRows((old) => [...page.reverse(), ...old].slice(0, tailBuffer));
        }
        setPolls((p) => p + 1);
      } catch (e) {
        if (stop) return;
        setError(String((e as Error).message ?? e));
      }
      timer = window.setTimeout(poll, 1500);
    };
    poll();
    return () => {
      stop = true;
      ctl.abort();
      clearTimeout(timer);
    };
  }, [mode, query, tenant, paused]);
  return (
    <>
      <p class="muted livebar">
        <span class={paused ? '' : 'pulse'}>{paused ? 'paused' : 'live'}</span> · {rows.length.toLocaleString('en')} new lines (newest first, the last {tailBuffer.toLocaleString('en')} kept) · {polls} polls{' '}
        <button type="button" onClick={() => setPaused(!paused)}>{paused ? 'Resume' : 'Pause'}</button>
        {error && <span class="error"> {error}</span>}
      </p>
      {rows.length ? <LogList rows={rows} link={link} resetKey="tail" /> : <p class="muted">Waiting for new lines…</p>}
    </>
  );
}

// Volume is the stacked histogram of lines per level over the range.
export function Volume({ buckets, start, end, step, level, onLevel }: {
  buckets: VolumeBucket[];
  start: number;
  end: number;
  step: number;
  level: string;
  onLevel?: (level: string) => void; // none: the levels are not a filter
}) {
  const n = Math.max(1, Math.ceil((end - start) / step));
  const max = Math.max(1, ...buckets.map((b) => Object.values(b.counts).reduce((a, c) => a + c, 0)));
  const levels = [...new Set(buckets.flatMap((b) => Object.keys(b.counts)))].sort((a, b) => levelOrder.indexOf(a) - levelOrder.indexOf(b));
  const total = buckets.reduce((a, b) => a + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  return (
    <div class="volume">
      <div class="bars">
        {buckets.map((b) => {
          const sum = Object.values(b.counts).reduce((a, c) => a + c, 0);
          return (
            <div class="bar" style={{ left: `${((b.t - step - start) / (end - start)) * 100}%`, width: `${100 / n}%`, height: `${(sum / max) * 100}%` }}
              title={`${fmtTime(b.t * 1000)}\n` + levels.filter((l) => b.counts[l]).map((l) => `${l}: ${b.counts[l]}`).join('\n')}>
              {levels.filter((l) => b.counts[l]).map((l) => <div class={'lvl-bg-' + l} style={{ height: `${(b.counts[l] / sum) * 100}%` }} />)}
            </div>
          );
        })}
      </div>
      <div class="axis muted"><span>{fmtTime(start * 1000)}</span><span>{fmtTime(end * 1000)}</span></div>
      <div class="muted">
        {nLines(total)} ·{' '}
        {levels.map((l) => (
          <button type="button" disabled={!onLevel} class={'legend lvl-' + l + (l === level ? ' active' : '')} title={!onLevel ? '' : l === level ? 'show every level' : 'show only ' + l} onClick={() => onLevel?.(l)}>
            ■ {l}
          </button>
        ))}
      </div>
    </div>
  );
}

export function LogList({ rows, link, resetKey }: { rows: LogRow[]; link: PageProps['link']; resetKey?: unknown }) {
  // Opened lines are remembered by row, not index: live tail puts new
  // lines in front.
  const [open, setOpen] = useState<Set<LogRow>>(new Set());
  if (!rows.length) return <p class="muted">No lines.</p>;
  const toggle = (r: LogRow) => {
    const o = new Set(open);
    o.has(r) ? o.delete(r) : o.add(r);
    setOpen(o);
  };
  return (
    <>
      <p class="muted count">{nLines(rows.length)}</p>
      <VirtualList class="loglist" count={rows.length} rowHeight={20} maxHeight="calc(100vh - 250px)" resetKey={resetKey}
        tall={(i) => open.has(rows[i])} tallKey={open} estimate={() => 160}
        render={(i) => {
          const r = rows[i];
          return (
            <div class={'logrow lvl-border-' + r.level}>
              <div class="logline" onClick={() => toggle(r)}>
                <span class="ts">{fmtTime(r.ms)}</span>
                <span class={'lvl lvl-' + r.level}>{r.level}</span>
                <span class="line">{r.line}</span>
                {r.traceID && <a class="tracelink" href={link('correlate', { trace: r.traceID })} onClick={(e) => e.stopPropagation()}>trace {r.traceID.slice(0, 8)}…</a>}
              </div>
              {open.has(r) && (
                <div class="details">
                  <pre class="fullline">{r.line}</pre>
                  <Fields title={r.native ? 'Resource' : 'Labels'} m={r.labels} />
                  <Fields title={r.native ? 'Attributes' : 'Structured metadata'} m={r.metadata} link={link} />
                  <Fields title="Parsed" m={r.parsed} />
                </div>
              )}
            </div>
          );
        }} />
    </>
  );
}

function Fields({ title, m, link }: { title: string; m: Record<string, string>; link?: PageProps['link'] }) {
  const keys = Object.keys(m).sort();
  if (!keys.length) return null;
  return (
    <table class="fields">
      <caption>{title}</caption>
      <tbody>
        {keys.map((k) => (
          <tr>
            <th>{k}</th>
            <td>{link && /^trace_?id$/i.test(k) ? <a href={link('correlate', { trace: m[k] })}>{m[k]}</a> : m[k]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
