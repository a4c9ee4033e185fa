import { api, qs } from './api';
import type { PageProps } from './App';
import { useLoad } from './hooks';
import { edgesOf, fmtRate, layoutGraph } from './graph';
import { useMemo } from 'preact/hooks';
import { resolveRange } from './state';

const W = 170; // node box
const H = 44;
const GX = 160; // gaps between columns and rows
const GY = 22;

// ServiceGraph draws the services and the calls between them over the
// page's range, from the service-graph metrics (request and failure
// rates per client and server). A node opens the traces of its service;
// an edge with failures is red, its width grows with its rate.
export function ServiceGraph({ params, link }: { params: Record<string, string>; link: PageProps['link'] }) {
  // Resolved once per range and tenant: now-1h moves on every render.
  const range = useMemo(() => resolveRange(params, Date.now()), [params.from, params.to, params.tenant]);
  const secs = Math.max(60, Math.round((range.end - range.start) / 1000));
  const q = (metric: string) => `sum by (client, server) (rate(${metric}[${secs}s]))`;
  const res = useLoad(
    () =>
      Promise.all(
        ['traces_service_graph_request_total', 'traces_service_graph_request_failed_total'].map((m) =>
          api('/api/v1/query', { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: qs({ query: q(m), time: range.end / 1000 }) }).then((r) => r.data.result),
        ),
      ).then(([req, failed]) => layoutGraph(edgesOf(req, failed))),
    [range],
  );
  if (res.error) return <p class="error">service graph: {res.error}</p>;
  const g = res.data;
  if (!g) return <p class="muted">loading the service graph…</p>;
  if (!g.nodes.length) return <p class="muted">No calls between services in this range (the service graph comes from client and server spans).</p>;
  const pos = new Map(g.nodes.map((n) => [n.name, { x: 10 + n.column * (W + GX), y: 10 + n.row * (H + GY) }]));
  const maxRate = Math.max(...g.edges.map((e) => e.rate), 1e-9);
  const width = 20 + g.columns * W + (g.columns - 1) * GX;
  const height = 20 + g.rows * H + (g.rows - 1) * GY;
  return (
    <svg class="servicegraph" width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="img" aria-label="service graph">
      <defs>
        <marker id="sg-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" fill="#9ca3af" />
        </marker>
        <marker id="sg-arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">
          <path d="M0,0 L10,5 L0,10 z" fill="#dc2626" />
        </marker>
      </defs>
      {g.edges.map((e) => {
        const a = pos.get(e.client)!;
        const b = pos.get(e.server)!;
        const err = e.errorRate > 0;
        const label = `${e.client} → ${e.server}: ${fmtRate(e.rate)}` + (err ? `, ${((e.errorRate / Math.max(e.rate, 1e-9)) * 100).toFixed(1)}% errors` : '');
        let d: string;
        let lx: number;
        let ly: number;
        if (e.client === e.server) {
          d = `M${a.x + W - 30},${a.y} C${a.x + W},${a.y - 30} ${a.x + W + 30},${a.y} ${a.x + W},${a.y + 12}`;
          lx = a.x + W + 4;
          ly = a.y - 8;
        } else {
          const back = b.x <= a.x; // a call to the left: around, below
          const x1 = back ? a.x + W / 2 : a.x + W;
          const y1 = back ? a.y + H : a.y + H / 2;
          const x2 = back ? b.x + W / 2 : b.x;
          const y2 = back ? b.y + H : b.y + H / 2;
          const c = back ? `C${x1},${y1 + 40} ${x2},${y2 + 40}` : `C${(x1 + x2) / 2},${y1} ${(x1 + x2) / 2},${y2}`;
          d = `M${x1},${y1} ${c} ${x2},${y2}`;
          lx = (x1 + x2) / 2;
          ly = (y1 + y2) / 2 + (back ? 30 : -7);
        }
        return (
          <g class={'sg-edge' + (err ? ' err' : '')}>
            <title>{label}</title>
            <path d={d} fill="none" stroke={err ? '#dc2626' : '#9ca3af'} stroke-width={1 + 3 * (e.rate / maxRate)} marker-end={`url(#${err ? 'sg-arrow-err' : 'sg-arrow'})`} />
            <text x={lx} y={ly} text-anchor="middle" class="sg-label">
              {fmtRate(e.rate)}{err ? ` · ${((e.errorRate / Math.max(e.rate, 1e-9)) * 100).toFixed(0)}% err` : ''}
            </text>
          </g>
        );
      })}
      {g.nodes.map((n) => {
        const p = pos.get(n.name)!;
        const errShare = n.inRate > 0 ? n.inErrors / n.inRate : 0;
        return (
          <a class="sg-node" href={link('traces', { q: `{ resource.service.name = ${JSON.stringify(n.name)} }` })}>
            <title>{`${n.name}: serves ${fmtRate(n.inRate)}` + (n.inErrors ? `, ${(errShare * 100).toFixed(1)}% failed` : '')}</title>
            <rect x={p.x} y={p.y} width={W} height={H} rx={6} fill="#fff" stroke={errShare > 0 ? '#dc2626' : '#3b82f6'} stroke-width={errShare > 0 ? 2 : 1} />
            <text x={p.x + W / 2} y={p.y + 18} text-anchor="middle" class="sg-name">{n.name.length > 22 ? n.name.slice(0, 21) + '…' : n.name}</text>
            <text x={p.x + W / 2} y={p.y + 34} text-anchor="middle" class="sg-stat">
              {n.inRate > 0 ? `${fmtRate(n.inRate)} in` + (n.inErrors > 0 ? ` · ${(errShare * 100).toFixed(0)}% err` : '') : 'caller'}
            </text>
          </a>
        );
      })}
    </svg>
  );
}
