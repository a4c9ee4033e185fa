import { useMemo } from 'preact/hooks';
import { api, qs } from './api';
import type { PageProps } from './App';
import { Chart, ExemplarPoint, maxLiveLegend } from './Chart';
import { fmtLabels, fmtTime } from './format';
import { useLoad } from './hooks';
import { QueryEditor } from './QueryEditor';
import { Heatmap } from './Heatmap';
import type { MatrixSeries } from './series';
import { HistSeries } from './heat';

// maxHeatmaps bounds the heatmaps one query draws.
const maxHeatmaps = 10;
import { autoStep, parseDuration, resolveRange } from './state';

export function MetricsPage({ state, set, link }: PageProps) {
  const { query = '', view = 'graph', step = '' } = state.params;
  const range = resolveRange(state.params, Date.now());
  const stepS = parseDuration(step) / 1000 || autoStep(range);
  const key = [query, view, state.params.from, state.params.to, step, state.params.tenant];

  const res = useLoad(
    query
      ? async () => {
          if (view === 'table') {
            return api('/api/v1/query', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: qs({ query, time: range.end / 1000 }) });
          }
          // The evaluation steps end at the range's end, so the newest
          // sample shows (start + k*step would stop up to a step short).
          const end = range.end / 1000;
          const start = end - stepS * Math.ceil((end - range.start / 1000) / stepS);
          const body = qs({ query, start, end, step: stepS });
          const [r, ex] = await Promise.all([
            api('/api/v1/query_range', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body }),
            // Exemplars are a bonus: a query they cannot answer must not hide the chart.
            api('/api/v1/query_exemplars?' + qs({ query, start: range.start / 1000, end: range.end / 1000 })).catch(() => ({ data: [] })),
          ]);
          return { ...r, exemplars: toPoints(ex.data ?? []) };
        }
      : null,
    key,
  );
  const params = (p: Record<string, string>) => set({ query, view, step, ...p });
  const data = res.data?.data;
  // Float series go on the chart, native histograms into heatmaps; once
  // per answer, so the chart is not drawn again on every render.
  const [floats, hists] = useMemo(() => {
    const r: (HistSeries & MatrixSeries)[] = data?.resultType === 'matrix' ? data.result : [];
    return [r.filter((s) => s.values), r.filter((s) => s.histograms)];
  }, [data]);
  return (
    <section>
      <QueryEditor value={query} tenant={state.params.tenant ?? ''} onRun={(q) => params({ query: q })} />
      <div class="toolbar">
        <span class="tabs">
          <button class={view === 'graph' ? 'active' : ''} onClick={() => params({ view: 'graph' })}>Graph</button>
          <button class={view === 'table' ? 'active' : ''} onClick={() => params({ view: 'table' })}>Table</button>
        </span>
        {view === 'graph' && (
          <label>
            Step <input size={6} placeholder={stepS + 's'} value={step} onChange={(e) => params({ step: (e.target as HTMLInputElement).value })} />
          </label>
        )}
        {res.loading && <span class="muted">loading…</span>}
      </div>
      {res.error && <p class="error">{res.error}</p>}
      {data && view === 'graph' && hists.length > 0 && (
        // Native histograms: a heatmap per series (the first ten).
        <>
          {hists.slice(0, maxHeatmaps).map((r) => (
            <Heatmap series={r} start={range.start / 1000} end={range.end / 1000} step={stepS} />
          ))}
          {hists.length > maxHeatmaps && <p class="muted">The first {maxHeatmaps} histogram series are drawn; narrow the query for the others.</p>}
        </>
      )}
      {data && view === 'graph' && data.resultType === 'matrix' && (!hists.length || floats.length > 0) && (
        <>
          <Chart
            result={floats}
            start={range.start / 1000}
            end={range.end / 1000}
            exemplars={res.data.exemplars ?? []}
            exemplarHref={(e) => link('correlate', { trace: e.traceID })}
            // A dragged range becomes the page's range, so it is in the URL
            // and the query runs again at a finer step.
            onZoom={(from, to) => params({ from: String(Math.floor(from)), to: String(Math.ceil(to)) })}
          />
          <p class="muted">
            {floats.length} series{floats.length > maxLiveLegend ? ` (over ${maxLiveLegend}: the legend does not follow the cursor)` : ''}; {(res.data.exemplars ?? []).length} exemplars (diamonds: click one to open its trace)
          </p>
        </>
      )}
      {data && (view === 'table' || data.resultType !== 'matrix') && <ResultTable data={data} />}
    </section>
  );
}

function toPoints(groups: { seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string; timestamp: number }[] }[]): ExemplarPoint[] {
  const out: ExemplarPoint[] = [];
  for (const g of groups) {
    for (const e of g.exemplars ?? []) {
      const traceID = e.labels.trace_id ?? e.labels.traceID ?? e.labels.traceId ?? '';
      if (traceID) out.push({ t: e.timestamp, v: Number(e.value), traceID, labels: { ...g.seriesLabels, ...e.labels } });
    }
  }
  return out;
}

function ResultTable({ data }: { data: { resultType: string; result: any } }) {
  if (data.resultType === 'scalar' || data.resultType === 'string') {
    return <table class="grid"><tbody><tr><td>{fmtTime(data.result[0] * 1000)}</td><td class="num">{data.result[1]}</td></tr></tbody></table>;
  }
  const rows: any[] = data.result;
  return (
    <table class="grid">
      <thead><tr><th>Series</th><th class="num">Value</th></tr></thead>
      <tbody>
        {rows.map((r) => (
          <tr>
            <td class="mono">{fmtLabels(r.metric)}</td>
            <td class="num">{r.value ? r.value[1] : r.values ? `${r.values.length} samples, last ${r.values[r.values.length - 1][1]}` : r.histogram ? 'native histogram, count ' + r.histogram[1].count : ''}</td>
          </tr>
        ))}
        {!rows.length && <tr><td colSpan={2} class="muted">no data</td></tr>}
      </tbody>
    </table>
  );
}
