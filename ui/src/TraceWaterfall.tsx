import { ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';
import { fmtDuration, fmtTime, fmtValue } from './format';
import { VirtualList } from './VirtualList';
import { colorOf, layout, WSpan } from './waterfall';

const rowHeight = 22;

// TraceWaterfall draws the spans of one trace by time, one row each,
// indented by depth and coloured by service; errors in red. Clicking a row
// opens its details. Only the rows in view are in the DOM, so a trace of
// 10,000 spans scrolls as one of ten. under(span) may add content below a
// span's row (the correlate page puts the span's log lines there);
// underLines(span) says how many lines that is, before it is drawn.
// traceHref is where a span link to another trace goes.
export function TraceWaterfall({ spans, under, underLines, traceHref }: {
  spans: WSpan[];
  under?: (s: WSpan) => ComponentChildren;
  underLines?: (s: WSpan) => number;
  traceHref: (traceID: string) => string;
}) {
  const [sel, setSel] = useState<string>('');
  const l = useMemo(() => layout(spans), [spans]);
  const tall = (i: number) => l.rows[i].span.spanID === sel || (underLines?.(l.rows[i].span) ?? 0) > 0;
  return (
    <div class="waterfall">
      <div class="wf-head">
        <span>{l.rows.length} spans · {fmtDuration(l.durationMs)} · {fmtTime(l.startMs)}</span>
        <span>{l.services.map((s) => <span class="svc"><i style={{ background: colorOf(s, l.services) }} /> {s}</span>)}</span>
      </div>
      <VirtualList count={l.rows.length} rowHeight={rowHeight} maxHeight="75vh" resetKey={l} tall={tall} tallKey={sel}
        estimate={(i) => (l.rows[i].span.spanID === sel ? 200 : 0) + (underLines?.(l.rows[i].span) ?? 0) * 20 + 4}
        render={(i) => {
          const r = l.rows[i];
          return (
            <>
              <div class={'wf-row' + (sel === r.span.spanID ? ' sel' : '')} onClick={() => setSel(sel === r.span.spanID ? '' : r.span.spanID)}>
                <div class="wf-name" style={{ paddingLeft: `${r.depth * 12 + 4}px` }} title={r.span.name}>
                  <i style={{ background: colorOf(r.span.service, l.services) }} />
                  {r.span.error && <b class="err" title="error">!</b>}
                  <span class="svcname">{r.span.service}</span> {r.span.name}
                </div>
                <div class="wf-track">
                  <div class={'wf-bar' + (r.span.error ? ' err' : '')} style={{ left: `${r.left * 100}%`, width: `${r.width * 100}%`, background: colorOf(r.span.service, l.services) }} />
                  {/* The duration after the bar, or before it when the bar ends near the right edge. */}
                  <span class="wf-dur" style={r.left + r.width < 0.85 ? { left: `${(r.left + r.width) * 100}%` } : { right: `${(1 - r.left) * 100}%`, paddingRight: '4px' }}>
                    {fmtDuration(r.span.durationMs)}
                  </span>
                </div>
              </div>
              {sel === r.span.spanID && <SpanDetails span={r.span} traceHref={traceHref} />}
              {under?.(r.span)}
            </>
          );
        }} />
    </div>
  );
}

function SpanDetails({ span, traceHref }: { span: WSpan; traceHref: (traceID: string) => string }) {
  const kv = (m: Record<string, unknown>) =>
    Object.keys(m).sort().map((k) => (
      <tr><th>{k}</th><td>{fmtValue(m[k])}</td></tr>
    ));
  const attrs = (m: Record<string, unknown>) => Object.keys(m).sort().map((k) => `${k}=${fmtValue(m[k])}`).join(' ');
  return (
    <div class="details">
      <table class="fields">
        <caption>Span</caption>
        <tbody>
          <tr><th>span ID</th><td class="mono">{span.spanID}</td></tr>
          {span.parentSpanID && <tr><th>parent</th><td class="mono">{span.parentSpanID}</td></tr>}
          <tr><th>kind</th><td>{span.kind}</td></tr>
          <tr><th>start</th><td>{fmtTime(span.startMs)}</td></tr>
          <tr><th>duration</th><td>{fmtDuration(span.durationMs)}</td></tr>
          {span.error && <tr><th>status</th><td class="error">error {span.statusMessage}</td></tr>}
        </tbody>
      </table>
      {Object.keys(span.attributes).length > 0 && <table class="fields"><caption>Attributes</caption><tbody>{kv(span.attributes)}</tbody></table>}
      {Object.keys(span.resource).length > 0 && <table class="fields"><caption>Resource</caption><tbody>{kv(span.resource)}</tbody></table>}
      {span.events.length > 0 && (
        <table class="fields events">
          <caption>Events</caption>
          <tbody>
            {span.events.map((e) => (
              <tr><th>+{fmtDuration(e.ms - span.startMs)} {e.name}</th><td>{attrs(e.attributes)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {span.links.length > 0 && (
        <table class="fields links">
          <caption>Links</caption>
          <tbody>
            {span.links.map((k) => (
              <tr>
                <th><a class="mono" href={traceHref(k.traceID)} title="open this trace">trace {k.traceID}</a> span {k.spanID}</th>
                <td>{attrs(k.attributes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
