import { describe, expect, it } from 'vitest';
import { colour, heatOf, yScale } from '../src/heat';

describe('heatmap', () => {
  const s = {
    metric: { __name__: 'latency' },
    histograms: [
      [100, { count: '3', sum: '6', buckets: [[0, '1', '2', '1'], [0, '2', '4', '2']] }],
      [160, { count: '4', sum: '30', buckets: [[0, '4', '8', '4'], [0, '8', '16', '0']] }],
    ] as any,
  };
  it('turns histogram samples into cells, leaving out empty buckets', () => {
    const h = heatOf(s);
    expect(h.times).toEqual([100, 160]);
    expect(h.cells).toHaveLength(3);
    expect(h).toMatchObject({ min: 1, max: 8, maxCount: 4, log: true });
    const y = yScale(h);
    expect(y(1)).toBe(0);
    expect(y(8)).toBeCloseTo(1);
    expect(y(2)).toBeCloseTo(1 / 3);
  });
  it('is linear when a bucket reaches zero', () => {
    const h = heatOf({ metric: {}, histograms: [[1, { count: '1', sum: '0', buckets: [[3, '0', '0', '1'], [0, '0', '2', '1']] }]] as any });
    expect(h.log).toBe(false);
    expect(yScale(h)(1)).toBe(0.5);
  });
  it('colours by share', () => {
    expect(colour(0)).toBe('hsl(50, 90%, 88%)');
    expect(colour(1)).toBe('hsl(0, 90%, 38%)');
  });
});
