// Native histograms of a range query (Prometheus' "histograms" field) as
// the cells of a heatmap: one column per step, one cell per bucket, its
// colour the bucket's count (or rate) against the largest one.

// A native histogram sample as the Prometheus API writes it; each bucket
// is [boundaryRule, lower, upper, count].
export interface PromHistogram {
  count: string;
  sum: string;
  buckets?: [number, string, string, string][];
}

export interface HistSeries {
  metric: Record<string, string>;
  histograms?: [number, PromHistogram][];
}

export interface Cell {
  t: number; // Unix seconds: the column
  lower: number;
  upper: number;
  count: number;
}

export interface Heat {
  cells: Cell[];
  times: number[];
  min: number; // the lowest bound drawn (> 0 on a log scale)
  max: number;
  maxCount: number;
  log: boolean; // a log y scale: no bucket reaches zero or below
}

export function heatOf(s: HistSeries): Heat {
  const cells: Cell[] = [];
  const times: number[] = [];
  let min = Infinity;
  let max = -Infinity;
  let maxCount = 0;
  let nonPositive = false;
  for (const [t, h] of s.histograms ?? []) {
    times.push(t);
    for (const [, lo, up, c] of h.buckets ?? []) {
      const cell = { t, lower: Number(lo), upper: Number(up), count: Number(c) };
      if (!(cell.count > 0) || !isFinite(cell.lower) || !isFinite(cell.upper)) continue;
      cells.push(cell);
      if (cell.lower <= 0) nonPositive = true;
      min = Math.min(min, cell.lower);
      max = Math.max(max, cell.upper);
      maxCount = Math.max(maxCount, cell.count);
    }
  }
  const log = !nonPositive;
  if (!cells.length) return { cells, times, min: 0, max: 1, maxCount: 0, log: false };
  return { cells, times, min, max: max > min ? max : min + 1, maxCount, log };
}

// yScale maps a value to [0, 1] from the bottom: log10 when the heat is
// on a log scale.
export function yScale(h: Heat): (v: number) => number {
  if (h.log) {
    const a = Math.log10(h.min);
    const b = Math.log10(h.max);
    return (v) => (Math.log10(v) - a) / (b - a || 1);
  }
  return (v) => (v - h.min) / (h.max - h.min || 1);
}

// colour is a cell's colour for its share of the largest count: from a
// pale yellow to a dark red, the scale Grafana's heatmaps use.
export function colour(share: number): string {
  const s = Math.max(0, Math.min(1, share));
  const hue = 50 - 50 * s;
  const light = 88 - 50 * s;
  return `hsl(${hue.toFixed(0)}, 90%, ${light.toFixed(0)}%)`;
}
