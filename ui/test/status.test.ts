import { describe, expect, it } from 'vitest';
import { fmtBytes, rate } from '../src/StatusPage';
import { rememberTenant } from '../src/App';

const reading = (time: string, samples: number, started = 's') =>
  ({ tenant: 't', time, started, metrics: { headSeries: 0, blocks: 0, blockBytes: 0, samplesAppendedTotal: samples } }) as any;

describe('status', () => {
  it('derives a rate from two readings of a counter', () => {
    const f = (s: any) => s.metrics.samplesAppendedTotal;
    expect(rate(undefined, reading('2026-01-01T00:00:05Z', 100), f)).toBeNull();
    expect(rate(reading('2026-01-01T00:00:00Z', 50), reading('2026-01-01T00:00:05Z', 100), f)).toBe(10);
    expect(rate(reading('2026-01-01T00:00:00Z', 50, 'a'), reading('2026-01-01T00:00:05Z', 100, 'b'), f)).toBeNull();
  });
  it('writes bytes', () => {
    expect(fmtBytes(512)).toBe('512 B');
    expect(fmtBytes(1536)).toBe('1.5 KiB');
  });
  it('remembers the most recent tenants, each once', () => {
    expect(rememberTenant(['a', 'b'], 'b')).toEqual(['b', 'a']);
    expect(rememberTenant(Array.from({ length: 20 }, (_, i) => 't' + i), 'new')).toHaveLength(20);
  });
});
