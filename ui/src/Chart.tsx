import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { alignMatrix, MatrixSeries } from './series';
import { fmtLabels, fmtTime } from './format';
import { colorOf } from './waterfall';

// maxLiveLegend is the most series whose legend values follow the cursor.
export const maxLiveLegend = 50;

export interface ExemplarPoint {
  t: number; // Unix seconds
  v: number;
  traceID: string;
  labels: Record<string, string>;
}

// Chart draws a range query with uPlot: legend with values under the
// cursor, drag to zoom, and exemplars as diamonds that link to their
// trace's correlate page.
export function Chart(p: {
  result: MatrixSeries[];
  start: number;
  end: number;
  exemplars?: ExemplarPoint[];
  exemplarHref?: (e: ExemplarPoint) => string;
  height?: number;
  marker?: number; // a time (Unix seconds) drawn as a vertical line
  legend?: (m: Record<string, string>) => string;
  // onZoom takes a range selected by dragging (Unix seconds); without it,
  // the chart zooms in by itself.
  onZoom?: (start: number, end: number) => void;
}) {
  const height = p.height ?? 320;
  const el = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!el.current) return;
    const data = alignMatrix(p.result);
    const ex = p.exemplars ?? [];
    const labels = p.result.map((_, i) => String(i));
    // Exemplars are links laid over the plot, not canvas drawings: each is
    // a real anchor to its trace (hover shows its labels, the keyboard and
    // tests reach it), moved on each redraw (zoom, resize).
    const layer = document.createElement('div');
    layer.className = 'exemplars';
    const drawExemplars = (u: uPlot) => {
      layer.textContent = '';
      const w = u.over.clientWidth;
      const h = u.over.clientHeight;
      for (const e of ex) {
        const x = u.valToPos(e.t, 'x');
        const y = u.valToPos(e.v, 'y');
        if (!(x >= 0 && x <= w && y >= 0 && y <= h)) continue;
        const a = document.createElement('a');
        a.className = 'exemplar';
        a.href = p.exemplarHref?.(e) ?? '';
        a.style.left = x + 'px';
        a.style.top = y + 'px';
        a.title = `trace ${e.traceID}\nvalue ${e.v} at ${fmtTime(e.t * 1000)}\n` + Object.entries(e.labels).map(([k, v]) => `${k}="${v}"`).join('\n');
        layer.appendChild(a);
      }
    };
    const opts: uPlot.Options = {
      width: el.current.clientWidth || 800,
      height,
      cursor: { drag: { x: true, y: false, setScale: !p.onZoom } },
      // The legend's values follow the cursor while there are few series:
      // with hundreds, rewriting every row on each mouse move is what
      // makes hovering slow (vmui hides them too).
      legend: { live: p.result.length <= maxLiveLegend },
      // The x axis is the query's range (Unix seconds), not the data's:
      // a lone point would otherwise be stretched over years.
      scales: { x: { time: true, range: (u, min, max) => (u.status ? [min, max] : [p.start, p.end]) } },
      series: [
        {},
        ...p.result.map((s, i) => ({ label: (p.legend ?? fmtLabels)(s.metric), stroke: colorOf(String(i), labels), width: 1.5, spanGaps: false })),
      ],
      axes: [{}, { size: 70 }],
      hooks: {
        setSelect: [
          (u: uPlot) => {
            if (!p.onZoom || u.select.width < 2) return;
            p.onZoom(u.posToVal(u.select.left, 'x'), u.posToVal(u.select.left + u.select.width, 'x'));
          },
        ],
        draw: [
          drawExemplars,
          (u: uPlot) => {
            if (p.marker === undefined) return;
            const x = u.valToPos(p.marker, 'x', true);
            const c = u.ctx;
            c.save();
            c.strokeStyle = '#e11d48';
            c.setLineDash([4, 4]);
            c.beginPath();
            c.moveTo(x, u.bbox.top);
            c.lineTo(x, u.bbox.top + u.bbox.height);
            c.stroke();
            c.restore();
          },
        ],
      },
    };
    const u = new uPlot(opts, data as uPlot.AlignedData, el.current);
    u.over.appendChild(layer);
    drawExemplars(u);
    const ro = new ResizeObserver(() => u.setSize({ width: el.current!.clientWidth, height }));
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      u.destroy();
    };
  }, [p.result, p.exemplars, p.start, p.end, p.marker]);
  return <div class="chart" ref={el} />;
}
