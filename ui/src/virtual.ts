// The arithmetic of a virtualised list: rows of a fixed height, some of
// which (an opened log line, a span with its details or its log lines)
// are taller by an extra that is estimated, then measured once drawn.

export interface Offsets {
  rowHeight: number;
  // prefix[i] is the sum of the extras of the rows before row i
  // (length count + 1), so that row i's top is i * rowHeight + prefix[i].
  prefix: Float64Array;
}

export function offsets(count: number, rowHeight: number, extra: (i: number) => number): Offsets {
  const prefix = new Float64Array(count + 1);
  for (let i = 0; i < count; i++) prefix[i + 1] = prefix[i] + extra(i);
  return { rowHeight, prefix };
}

export function top(o: Offsets, i: number): number {
  return i * o.rowHeight + o.prefix[i];
}

export function total(o: Offsets): number {
  const n = o.prefix.length - 1;
  return top(o, n);
}

// rowAt is the row under y: the last row whose top is at or above y
// (a binary search: tops only grow).
export function rowAt(o: Offsets, y: number): number {
  const n = o.prefix.length - 1;
  if (n <= 0) return 0;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (top(o, mid) <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

// visible is the range of rows [first, last] to draw for a viewport from
// y of height h, with overscan rows either side so that a fast scroll does
// not show blank space before the next frame draws.
export function visible(o: Offsets, y: number, h: number, overscan = 8): [number, number] {
  const n = o.prefix.length - 1;
  if (n <= 0) return [0, -1];
  return [Math.max(0, rowAt(o, y) - overscan), Math.min(n - 1, rowAt(o, y + h) + overscan)];
}
