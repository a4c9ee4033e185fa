import { describe, expect, it } from 'vitest';
import { alignMatrix } from '../src/series';

describe('alignMatrix', () => {
  it('puts every series on the union of the timestamps, null where it has none', () => {
    const d = alignMatrix([
      { metric: {}, values: [[1, '1'], [3, '3']] },
      { metric: {}, values: [[2, '20'], [3, 'NaN'], [4, '40']] },
    ]);
    expect(d).toEqual([[1, 2, 3, 4], [1, null, 3, null], [null, 20, null, 40]]);
  });
  it('places samples out of time order too', () => {
    expect(alignMatrix([{ metric: {}, values: [[2, '2'], [1, '1']] }])).toEqual([[1, 2], [1, 2]]);
  });
});
