import { describe, expect, it } from 'vitest';
import { compareNs, parseStreams, volumeBuckets, volumeQuery } from '../src/loki';

describe('parseStreams', () => {
  const result: { stream: Record<string, string>; values: any }[] = [
    {
      stream: { service_name: 'checkout', detected_level: 'error' },
      values: [
        ['1700000000000000002', 'payment failed', { structuredMetadata: { trace_id: 'abc', span_id: 'def' } }],
        ['999999999000000000', 'old line'],
      ] as any,
    },
    {
      stream: { service_name: 'cart' },
      values: [['1700000000000000001', 'level=warn msg=slow', { parsed: { level: 'WARN' } }]] as any,
    },
  ];
  it('merges streams newest first, with levels, metadata and trace IDs', () => {
    const rows = parseStreams(result, 'backward');
    expect(rows.map((r) => r.line)).toEqual(['payment failed', 'level=warn msg=slow', 'old line']);
    expect(rows[0]).toMatchObject({ level: 'error', traceID: 'abc', spanID: 'def', ms: 1700000000000, metadata: { trace_id: 'abc', span_id: 'def' } });
    expect(rows[1]).toMatchObject({ level: 'warn', traceID: '', parsed: { level: 'WARN' } });
    expect(rows[2]).toMatchObject({ level: 'error', metadata: {}, ms: 999999999000 });
  });
  it('orders oldest first going forward', () => {
    expect(parseStreams(result, 'forward').map((r) => r.ts)).toEqual(['999999999000000000', '1700000000000000001', '1700000000000000002']);
  });
  it('compares nanoseconds beyond float precision', () => {
    expect(compareNs('1700000000000000001', '1700000000000000002')).toBeLessThan(0);
    expect(compareNs('99', '100')).toBeLessThan(0);
  });
});

describe('volume', () => {
  it('is Grafana query over the log query', () => {
    expect(volumeQuery('{a="b"} |= "x"', 60)).toBe('sum by (level, detected_level) (count_over_time({a="b"} |= "x" | drop __error__ [60s]))');
  });
  it('buckets counts by time and level', () => {
    const b = volumeBuckets([
      { metric: { detected_level: 'info' }, values: [[120, '3'], [60, '1']] },
      { metric: { level: 'ERROR' }, values: [[60, '2']] },
    ]);
    expect(b).toEqual([
      { t: 60, counts: { info: 1, error: 2 } },
      { t: 120, counts: { info: 3 } },
    ]);
  });
});
