// Pure helpers of the metrics chart: Prometheus matrices to uPlot's
// column-aligned data.

export interface MatrixSeries {
  metric: Record<string, string>;
  values?: [number, string][];
}

// alignMatrix puts every series on the union of their timestamps, with
// null where a series has no sample (uPlot draws a gap there).
export function alignMatrix(result: MatrixSeries[]): [number[], ...(number | null)[][]] {
  const ts = new Set<number>();
  for (const s of result) for (const [t] of s.values ?? []) ts.add(t);
  const xs = [...ts].sort((a, b) => a - b);
  const idx = new Map(xs.map((t, i) => [t, i]));
  const ys = result.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of s.values ?? []) {
      const n = Number(v);
      col[idx.get(t)!] = isFinite(n) ? n : null;
    }
    return col;
  });
  return [xs, ...ys];
}
