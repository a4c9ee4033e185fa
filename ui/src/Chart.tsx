import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { alignMatrix, MatrixSeries } from './series';
import { fmtLabels } from './format';
import { colorOf } from './waterfall';

export interface ExemplarPoint {
  t: number; // Unix seconds
  v: number;
  traceID: string;
  labels: Record<string, string>;
}

// Chart draws a range query with uPlot: legend with values under the
// cursor, drag to zoom, and exemplars as diamonds that open their trace
// when clicked.
export function Chart(p: { result: MatrixSeries[]; start: number; end: number; exemplars: ExemplarPoint[]; onExemplar: (e: ExemplarPoint) => void }) {
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const data = alignMatrix(p.result);
    const ex = p.exemplars;
    const labels = p.result.map((_, i) => String(i));
    const drawExemplars = (u: uPlot) => {
      const ctx = u.ctx;
      ctx.save();
      ctx.fillStyle = '#e11d48';
      for (const e of ex) {
        const x = u.valToPos(e.t, 'x', true);
        const y = u.valToPos(e.v, 'y', true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width || y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
        const r = 4 * devicePixelRatio;
        ctx.beginPath();
        ctx.moveTo(x, y - r);
        ctx.lineTo(x + r, y);
        ctx.lineTo(x, y + r);
        ctx.lineTo(x - r, y);
        ctx.fill();
      }
      ctx.restore();
    };
    const opts: uPlot.Options = {
      width: el.current.clientWidth || 800,
      height: 320,
      cursor: { drag: { x: true, y: false } },
      // The x axis is the query's range (Unix seconds), not the data's:
      // a lone point would otherwise be stretched over years.
      scales: { x: { time: true, range: (u, min, max) => (u.status ? [min, max] : [p.start, p.end]) } },
      series: [
        {},
        ...p.result.map((s, i) => ({ label: fmtLabels(s.metric), stroke: colorOf(String(i), labels), width: 1.5, spanGaps: false })),
      ],
      axes: [{}, { size: 70 }],
      hooks: { draw: [drawExemplars] },
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el.current);
    // Exemplars are drawn on the canvas, so clicks are matched by distance.
    const onClick = (ev: MouseEvent) => {
      const rect = u.over.getBoundingClientRect();
      const cx = ev.clientX - rect.left;
      const cy = ev.clientY - rect.top;
      let best: ExemplarPoint | null = null;
      let bestD = 8;
      for (const e of ex) {
        const d = Math.hypot(u.valToPos(e.t, 'x') - cx, u.valToPos(e.v, 'y') - cy);
        if (d < bestD) (bestD = d), (best = e);
      }
      if (best) p.onExemplar(best);
    };
    u.over.addEventListener('click', onClick);
    const ro = new ResizeObserver(() => u.setSize({ width: el.current!.clientWidth, height: 320 }));
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [p.result, p.exemplars, p.start, p.end]);
  return <div class="chart" ref={el} />;
}
