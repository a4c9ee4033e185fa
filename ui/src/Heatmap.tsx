import { useEffect, useRef, useState } from 'preact/hooks';
import { fmtLabels, fmtTime } from './format';
import { colour, heatOf, HistSeries, yScale } from './heat';

const H = 220;
const left = 70; // room for the y labels
const bottom = 18;

// Heatmap draws the native histograms of one series over the range on a
// canvas: a column per step (the step before each sample), a cell per
// bucket, darker for more; y on a log scale when every bucket is above
// zero. The cursor names the cell under it.
export function Heatmap({ series, start, end, step }: { series: HistSeries; start: number; end: number; step: number }) {
  const el = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState('');
  const heat = heatOf(series);
  useEffect(() => {
    const c = el.current!;
    const draw = () => {
      const w = c.parentElement!.clientWidth || 800;
      const dpr = devicePixelRatio || 1;
      c.width = w * dpr;
      c.height = H * dpr;
      c.style.width = w + 'px';
      c.style.height = H + 'px';
      const g = c.getContext('2d')!;
      g.scale(dpr, dpr);
      g.clearRect(0, 0, w, H);
      const pw = w - left - 8;
      const ph = H - bottom - 6;
      const x = (t: number) => left + ((t - start) / (end - start)) * pw;
      const y = yScale(heat);
      const py = (v: number) => 6 + ph - y(v) * ph;
      for (const cell of heat.cells) {
        const x0 = Math.max(left, x(cell.t - step));
        const x1 = Math.min(left + pw, x(cell.t));
        const y0 = py(heat.log ? Math.max(cell.lower, heat.min) : cell.lower);
        const y1 = py(cell.upper);
        if (x1 <= x0) continue;
        g.fillStyle = colour(cell.count / heat.maxCount);
        g.fillRect(x0, y1, Math.max(1, x1 - x0), Math.max(1, y0 - y1));
      }
      g.strokeStyle = '#d1d5db';
      g.strokeRect(left, 6, pw, ph);
      g.fillStyle = '#6b7280';
      g.font = '11px system-ui, sans-serif';
      g.textAlign = 'right';
      for (const v of ticks(heat.min, heat.max, heat.log)) {
        g.fillText(fmtBound(v), left - 4, py(v) + 4);
      }
      g.textAlign = 'left';
      g.fillText(fmtTime(start * 1000), left, H - 4);
      g.textAlign = 'right';
      g.fillText(fmtTime(end * 1000), left + pw, H - 4);
    };
    draw();
    const ro = new ResizeObserver(draw);
    ro.observe(c.parentElement!);
    return () => ro.disconnect();
  }, [series, start, end, step]);
  const onMove = (e: MouseEvent) => {
    const r = el.current!.getBoundingClientRect();
    const pw = r.width - left - 8;
    const ph = H - bottom - 6;
    const t = start + ((e.clientX - r.left - left) / pw) * (end - start);
    const fy = (6 + ph - (e.clientY - r.top)) / ph;
    const cell = heat.cells.find((c) => t > c.t - step && t <= c.t && fy >= yScale(heat)(heat.log ? Math.max(c.lower, heat.min) : c.lower) && fy <= yScale(heat)(c.upper));
    setHover(cell ? `${fmtTime(cell.t * 1000)}: (${fmtBound(cell.lower)}, ${fmtBound(cell.upper)}] ${+cell.count.toPrecision(4)}` : '');
  };
  return (
    <div class="heatmap">
      <div class="muted mono">{fmtLabels(series.metric)} · native histogram · {heat.cells.length} cells{hover ? ' · ' + hover : ''}</div>
      <div><canvas ref={el} onMouseMove={onMove} onMouseLeave={() => setHover('')} /></div>
    </div>
  );
}

function ticks(min: number, max: number, log: boolean): number[] {
  if (log) {
    const out = [];
    for (let e = Math.ceil(Math.log10(min)); e <= Math.floor(Math.log10(max)); e++) out.push(10 ** e);
    if (out.length < 2) out.push(min, max);
    return out.slice(0, 12);
  }
  return [0, 0.25, 0.5, 0.75, 1].map((f) => min + f * (max - min));
}

function fmtBound(v: number): string {
  return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(1) : String(+v.toPrecision(3));
}
