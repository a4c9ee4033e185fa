import { describe, expect, it } from 'vitest';
import { edgesOf, fmtRate, layoutGraph } from '../src/graph';

const v = (client: string, server: string, x: number) => ({ metric: { client, server }, value: [0, String(x)] as [number, string] });

describe('service graph', () => {
  it('joins requests and failures by edge', () => {
    expect(edgesOf([v('a', 'b', 2), v('b', 'c', 1)], [v('b', 'c', 0.5)])).toEqual([
      { client: 'a', server: 'b', rate: 2, errorRate: 0 },
      { client: 'b', server: 'c', rate: 1, errorRate: 0.5 },
    ]);
  });
  it('puts callees right of their callers, by the longest chain', () => {
    const g = layoutGraph(edgesOf([v('frontend', 'checkout', 2), v('checkout', 'payment', 1), v('frontend', 'payment', 1)], [v('checkout', 'payment', 1)]));
    const col = Object.fromEntries(g.nodes.map((n) => [n.name, n.column]));
    expect(col).toEqual({ frontend: 0, checkout: 1, payment: 2 });
    expect(g.columns).toBe(3);
    expect(g.nodes.find((n) => n.name === 'payment')).toMatchObject({ inRate: 2, inErrors: 1 });
  });
  it('survives call cycles', () => {
    const g = layoutGraph(edgesOf([v('a', 'b', 1), v('b', 'a', 1), v('c', 'c', 1)], []));
    expect(g.nodes.map((n) => n.name).sort()).toEqual(['a', 'b', 'c']);
  });
  it('keeps the busiest services', () => {
    const g = layoutGraph(edgesOf([v('a', 'b', 5), v('c', 'd', 1)], []), 2);
    expect(g.nodes.map((n) => n.name).sort()).toEqual(['a', 'b']);
    expect(g.edges).toHaveLength(1);
  });
  it('writes rates', () => {
    expect(fmtRate(0.005)).toBe('0.30/min');
    expect(fmtRate(2.5)).toBe('2.50/s');
  });
});
