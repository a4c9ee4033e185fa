import { useState } from 'preact/hooks';
import { api, qs } from './api';
import type { PageProps } from './App';
import { fmtTime } from './format';
import { useLoad } from './hooks';
import { LogRow, parseStreams, volumeBuckets, volumeQuery, VolumeBucket } from './loki';
import { autoStep, resolveRange } from './state';
import { levelOfQuery, serviceOfQuery, withLevel, withService } from './logql';

const levelOrder = ['fatal', 'critical', 'error', 'warn', 'warning', 'info', 'debug', 'trace', 'unknown'];

export function LogsPage({ state, set, link }: PageProps) {
  const { query = '', limit = '100', direction = 'backward' } = state.params;
  const [text, setText] = useState(query);
  const range = resolveRange(state.params, Date.now());
  const key = [query, limit, direction, state.params.from, state.params.to, state.params.tenant];
  const params = (p: Record<string, string>) => set({ query, limit, direction, ...p });
  // The filters edit the query itself, which then runs: what is shown is
  // always what the query (and the shared link) says.
  const run = (q: string) => {
    setText(q);
    params({ query: q });
  };
  const services = useLoad(
    () => api('/loki/api/v1/label/service_name/values?' + qs({ start: range.start * 1e6, end: range.end * 1e6 })).then((r) => (r.data ?? []) as string[]),
    [state.params.tenant, state.params.from, state.params.to],
  );

  const lines = useLoad(
    query
      ? () =>
          api('/loki/api/v1/query_range?' + qs({ query, limit, direction, start: range.start * 1e6, end: range.end * 1e6 }), {
            // Structured metadata apart from the stream's labels, as Grafana asks.
            headers: { 'X-Loki-Response-Encoding-Flags': 'categorize-labels' },
          }).then((r) => parseStreams(r.data.result, direction === 'forward' ? 'forward' : 'backward'))
      : null,
    key,
  );
  const step = autoStep(range, 100);
  const volume = useLoad(
    query
      ? () =>
          // Steps end at the range's end, so the newest lines are counted;
          // each step's count is that of the step before it.
          api('/loki/api/v1/query_range?' + qs({ query: volumeQuery(query, step), start: range.end * 1e6 - step * 1e9 * Math.ceil((range.end - range.start) / 1000 / step), end: range.end * 1e6, step })).then((r) =>
            volumeBuckets(r.data.result),
          )
      : null,
    key,
  );
  return (
    <section>
      <form class="editor" onSubmit={(e) => { e.preventDefault(); params({ query: text }); }}>
        <input class="query" placeholder='LogQL, e.g. {service_name="checkout"} |= "timeout"' value={text} onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <select aria-label="service" value={serviceOfQuery(query)} onChange={(e) => run(withService(text, (e.target as HTMLSelectElement).value))}>
          <option value="">any service</option>
          {(services.data ?? []).map((s) => <option value={s}>{s}</option>)}
        </select>
        <select value={direction} onChange={(e) => params({ direction: (e.target as HTMLSelectElement).value })}>
          <option value="backward">newest first</option>
          <option value="forward">oldest first</option>
        </select>
        <select value={limit} onChange={(e) => params({ limit: (e.target as HTMLSelectElement).value })}>
          {['100', '500', '1000', '5000'].map((l) => <option value={l}>{l} lines</option>)}
        </select>
        <button type="submit">Run</button>
      </form>
      {volume.error && <p class="error">volume: {volume.error}</p>}
      {volume.data && (
        <Volume buckets={volume.data} start={range.start / 1000} end={range.end / 1000} step={step} level={levelOfQuery(query)}
          onLevel={(l) => run(withLevel(text, l === levelOfQuery(query) ? '' : l))} />
      )}
      {lines.loading && <p class="muted">loading…</p>}
      {lines.error && <p class="error">{lines.error}</p>}
      {lines.data && <LogList rows={lines.data} link={link} />}
    </section>
  );
}

// Volume is the stacked histogram of lines per level over the range.
export function Volume({ buckets, start, end, step, level, onLevel }: {
  buckets: VolumeBucket[];
  start: number;
  end: number;
  step: number;
  level: string;
  onLevel: (level: string) => void;
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
        {total} lines ·{' '}
        {levels.map((l) => (
          <button type="button" class={'legend lvl-' + l + (l === level ? ' active' : '')} title={l === level ? 'show every level' : 'show only ' + l} onClick={() => onLevel(l)}>
            ■ {l}
          </button>
        ))}
      </div>
    </div>
  );
}

export function LogList({ rows, link }: { rows: LogRow[]; link: PageProps['link'] }) {
  const [open, setOpen] = useState<Set<number>>(new Set());
  if (!rows.length) return <p class="muted">No lines.</p>;
  return (
    <div class="loglist">
      {rows.map((r, i) => (
        <div class={'logrow lvl-border-' + r.level}>
          <div class="logline" onClick={() => {
            const o = new Set(open);
            o.has(i) ? o.delete(i) : o.add(i);
            setOpen(o);
          }}>
            <span class="ts">{fmtTime(r.ms)}</span>
            <span class={'lvl lvl-' + r.level}>{r.level}</span>
            <span class="line">{r.line}</span>
            {r.traceID && <a class="tracelink" href={link('correlate', { trace: r.traceID })} onClick={(e) => e.stopPropagation()}>trace {r.traceID.slice(0, 8)}…</a>}
          </div>
          {open.has(i) && (
            <div class="details">
              <Fields title="Labels" m={r.labels} />
              <Fields title="Structured metadata" m={r.metadata} link={link} />
              <Fields title="Parsed" m={r.parsed} />
            </div>
          )}
        </div>
      ))}
    </div>
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
