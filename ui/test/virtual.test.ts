import { describe, expect, it } from 'vitest';
import { offsets, rowAt, top, total, visible } from '../src/virtual';

describe('virtual list offsets', () => {
  it('places fixed-height rows', () => {
    const o = offsets(100_000, 20, () => 0);
    expect(total(o)).toBe(2_000_000);
    expect(rowAt(o, 0)).toBe(0);
    expect(rowAt(o, 39)).toBe(1);
    expect(rowAt(o, 1e9)).toBe(99_999);
    expect(visible(o, 20_000, 600, 5)).toEqual([995, 1035]);
  });
  it('moves the rows after a taller one down by its extra', () => {
    const o = offsets(10, 20, (i) => (i === 3 ? 100 : 0));
    expect(top(o, 3)).toBe(60);
    expect(top(o, 4)).toBe(180);
    expect(total(o)).toBe(300);
    // Anywhere inside row 3's details is still row 3.
    expect(rowAt(o, 170)).toBe(3);
    expect(rowAt(o, 180)).toBe(4);
  });
  it('draws nothing for no rows', () => {
    expect(visible(offsets(0, 20, () => 0), 0, 500)).toEqual([0, -1]);
  });
});
