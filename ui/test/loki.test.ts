import { describe, expect, it } from 'vitest';
import { boundaryCount, compareNs, fetchLines, LogRow, mergePage, nativeRows, nextPage, parseStreams, rfc3339ToNs, volumeBuckets, volumeQuery } from '../src/loki';

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

describe('paging', () => {
  const row = (ts: string, line: string): LogRow => ({ ts, ms: 0, line, labels: {}, metadata: {}, parsed: {}, level: 'info', traceID: '', spanID: '' });
  it('asks again from the boundary nanosecond and leaves out the lines it had', () => {
    const rows = [row('300', 'c'), row('200', 'b1'), row('200', 'b2')];
    expect(nextPage(rows, 'backward', '0', '1000')).toEqual({ start: '0', end: '201' });
    expect(nextPage([row('1700000000000000001', 'x')], 'forward', '5', '1800000000000000000')).toEqual({ start: '1700000000000000001', end: '1800000000000000000' });
    expect(boundaryCount(rows)).toBe(2);
    expect(mergePage(rows, [row('200', 'b2'), row('200', 'b1'), row('200', 'b3'), row('100', 'a')])).toBe(2);
    expect(rows.map((r) => r.line)).toEqual(['c', 'b1', 'b2', 'b3', 'a']);
  });
});

describe('native records', () => {
  it('keep their nanoseconds, severity, resource and attributes', () => {
    expect(rfc3339ToNs('2026-01-02T03:04:05.123456789Z')).toBe('1767323045123456789');
    expect(rfc3339ToNs('2026-01-02T03:04:05Z')).toBe('1767323045000000000');
    const [r] = nativeRows([{ timestamp: '2026-01-02T03:04:05.5Z', severityNumber: 17, severityText: 'ERROR', body: 'boom', traceId: 'ab', spanId: 'cd', resource: { 'service.name': 'pay' }, scope: { name: 'lib' }, attributes: { n: 3 } }]);
    expect(r).toMatchObject({ ts: '1767323045500000000', ms: 1767323045500, line: 'boom', level: 'error', traceID: 'ab', labels: { 'service.name': 'pay' }, metadata: { n: '3', 'scope.name': 'lib', severity_text: 'ERROR' } });
  });
});

describe('fetchLines', () => {
  // A store of n lines, two a nanosecond (so pages end inside one), that
  // answers as query_range does: [start, end), at most limit lines.
  const store = (n: number) => {
    const all: LogRow[] = [];
    for (let i = 0; i < n; i++) all.push({ ts: String(1000 + Math.floor(i / 2)), ms: 0, line: 'l' + i, labels: {}, metadata: {}, parsed: {}, level: 'info', traceID: '', spanID: '' });
    let calls = 0;
    const page = (direction: 'backward' | 'forward') => async (limit: number, start: string, end: string) => {
      calls++;
      const inRange = all.filter((r) => BigInt(r.ts) >= BigInt(start) && BigInt(r.ts) < BigInt(end));
      return (direction === 'backward' ? inRange.reverse() : inRange).slice(0, limit);
    };
    return { page, calls: () => calls };
  };
  it('fetches more than a page, in pages, every line once', async () => {
    for (const dir of ['backward', 'forward'] as const) {
      const s = store(12_001);
      const seen: number[] = [];
      const rows = await fetchLines(s.page(dir), 100_000, dir, '0', '999999', new AbortController().signal, (r) => seen.push(r.length));
      expect(rows).toHaveLength(12_001);
      expect(new Set(rows.map((r) => r.line)).size).toBe(12_001);
      expect(s.calls()).toBe(3);
      expect(seen[0]).toBe(5000); // shown as each page comes
      expect(seen).toHaveLength(2);
    }
  });
  it('stops at the limit', async () => {
    const rows = await fetchLines(store(12_001).page('backward'), 7000, 'backward', '0', '999999', new AbortController().signal, () => {});
    expect(rows).toHaveLength(7000);
    expect(rows[0].line).toBe('l12000');
  });
  it('keeps the lines before a failed page', async () => {
    const s = store(12_001);
    let n = 0;
    const rows = await fetchLines(async (l, a, b) => { if (++n === 2) throw new Error('422: too much'); return s.page('backward')(l, a, b); }, 100_000, 'backward', '0', '999999', new AbortController().signal, () => {});
    expect(rows).toHaveLength(5000);
    expect(rows.stopped).toBe('422: too much');
  });
});
