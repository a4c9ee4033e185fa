import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import { completionContext, Completion } from './complete';

// QueryEditor is a PromQL textarea with completion of metric names,
// functions, label names and label values, fetched from the Prometheus
// API (metric names once per tenant, labels per metric as typed).
export function QueryEditor(p: { value: string; onRun: (q: string) => void; tenant: string }) {
  const [q, setQ] = useState(p.value);
  const [items, setItems] = useState<string[]>([]);
  const [sel, setSel] = useState(0);
  const [ctx, setCtx] = useState<Completion | null>(null);
  const ta = useRef<HTMLTextAreaElement>(null);
  const names = useRef<{ tenant: string; list: Promise<string[]> } | null>(null);
  const lastValue = useRef(p.value);
  // Where the caret goes once an accepted completion is rendered: before
  // the next key press, which a later frame would not be.
  const caretAfterRender = useRef<number | null>(null);
  useLayoutEffect(() => {
    const c = caretAfterRender.current;
    if (c === null || !ta.current) return;
    caretAfterRender.current = null;
    ta.current.focus();
    ta.current.setSelectionRange(c, c);
  });
  if (p.value !== lastValue.current) {
    lastValue.current = p.value;
    if (p.value !== q) setQ(p.value);
  }

  const metricNames = () => {
    if (!names.current || names.current.tenant !== p.tenant) {
      names.current = { tenant: p.tenant, list: api('/api/v1/label/__name__/values').then((r) => r.data ?? [], () => []) };
    }
    return names.current.list;
  };

  const suggest = async (text: string, pos: number) => {
    const c = completionContext(text, pos);
    setCtx(c);
    if (!c) return setItems([]);
    let list: string[] = [];
    if (c.kind === 'metric') list = [...(await metricNames()), ...functions.map((f) => f + '(')];
    else if (c.kind === 'label') {
      const m = c.metric ? '?match[]=' + encodeURIComponent(c.metric) : '';
      // __name__ is the metric, already typed before the brace.
      list = ((await api('/api/v1/labels' + m).catch(() => ({ data: [] }))).data ?? []).filter((l: string) => l !== '__name__');
    } else {
      const m = c.metric ? '?match[]=' + encodeURIComponent(c.metric) : '';
      list = (await api(`/api/v1/label/${encodeURIComponent(c.label!)}/values${m}`).catch(() => ({ data: [] }))).data ?? [];
    }
    const w = c.word.toLowerCase();
    const starts = list.filter((x) => x.toLowerCase().startsWith(w));
    const has = list.filter((x) => !x.toLowerCase().startsWith(w) && x.toLowerCase().includes(w));
    const out = [...starts, ...has].slice(0, 50);
    setItems(out.length === 1 && out[0] === c.word ? [] : out);
    setSel(0);
  };

  const accept = (item: string) => {
    if (!ctx || !ta.current) return;
    let ins = ctx.kind === 'value' ? item.replace(/["\\]/g, '\\$&') : item;
    const tail = q.slice(ctx.to);
    // A value closes its quote unless one follows already.
    if (ctx.kind === 'value' && !tail.startsWith('"')) ins += '"';
    const next = q.slice(0, ctx.from) + ins + tail;
    setQ(next);
    setItems([]);
    const caret = ctx.from + ins.length + (ctx.kind === 'value' && tail.startsWith('"') ? 1 : 0);
    caretAfterRender.current = caret;
  };

  return (
    <div class="editor">
      <textarea
        ref={ta}
        rows={Math.min(8, q.split('\n').length + 1)}
        spellcheck={false}
        placeholder="PromQL, e.g. sum by (job) (rate(http_server_requests_total[5m]))"
        value={q}
        onInput={(e) => {
          const t = e.target as HTMLTextAreaElement;
          setQ(t.value);
          suggest(t.value, t.selectionStart);
        }}
        onBlur={() => setTimeout(() => setItems([]), 150)}
        onKeyDown={(e) => {
          if (items.length) {
            if (e.key === 'ArrowDown') return e.preventDefault(), setSel((sel + 1) % items.length);
            if (e.key === 'ArrowUp') return e.preventDefault(), setSel((sel + items.length - 1) % items.length);
            if (e.key === 'Tab' || (e.key === 'Enter' && !e.shiftKey)) return e.preventDefault(), accept(items[sel]);
            if (e.key === 'Escape') return setItems([]);
          }
          if (e.key === 'Enter' && !e.shiftKey) {
            e.preventDefault();
            p.onRun(q);
          }
        }}
      />
      {items.length > 0 && (
        <ul class="completions">
          {items.map((it, i) => (
            <li class={i === sel ? 'sel' : ''} onMouseDown={(e) => { e.preventDefault(); accept(it); }}>{it}</li>
          ))}
        </ul>
      )}
      <button onClick={() => p.onRun(q)}>Run</button>
    </div>
  );
}

const functions = [
  'abs', 'absent', 'absent_over_time', 'avg', 'avg_over_time', 'bottomk', 'ceil', 'changes', 'clamp', 'clamp_max', 'clamp_min',
  'count', 'count_over_time', 'count_values', 'day_of_month', 'day_of_week', 'delta', 'deriv', 'exp', 'floor', 'group',
  'histogram_avg', 'histogram_count', 'histogram_fraction', 'histogram_quantile', 'histogram_sum', 'holt_winters', 'hour',
  'idelta', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log2', 'log10', 'max',
  'max_over_time', 'min', 'min_over_time', 'minute', 'month', 'predict_linear', 'present_over_time', 'quantile',
  'quantile_over_time', 'rate', 'resets', 'round', 'scalar', 'sgn', 'sort', 'sort_desc', 'sqrt', 'stddev',
  'stddev_over_time', 'stdvar', 'sum', 'sum_over_time', 'time', 'timestamp', 'topk', 'vector', 'year',
];
