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
  // Each series' samples are in time order, as xs is: one walk along
  // both places them (a chart of 1,000 series × 1,000 points is a million
  // samples, where a hash lookup each shows).
  const ys = result.map((s) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    let j = 0;
    for (const [t, v] of s.values ?? []) {
      while (xs[j] < t) j++;
      if (xs[j] !== t) j = xs.indexOf(t); // out of order: not from Prometheus, but kept right
      const n = Number(v);
      col[j] = isFinite(n) ? n : null;
    }
    return col;
  });
  return [xs, ...ys];
}
