import { describe, expect, it } from 'vitest';
import { b64ToHex, fromCorrelate, fromTempo, layout, WSpan } from '../src/waterfall';

const span = (spanID: string, parentSpanID: string, startMs: number, durationMs: number, service = 'svc'): WSpan => ({
  spanID, parentSpanID, service, name: spanID, kind: 'server', startMs, durationMs, error: false, statusMessage: '', attributes: {}, resource: {}, events: [], links: [],
});

describe('layout', () => {
  it('orders depth-first, children by start, with offsets as fractions', () => {
    const l = layout([span('c2', 'r', 50, 50), span('r', '', 0, 100), span('c1', 'r', 10, 20), span('g', 'c1', 15, 5)]);
    expect(l.rows.map((r) => [r.span.spanID, r.depth])).toEqual([['r', 0], ['c1', 1], ['g', 2], ['c2', 1]]);
    expect(l.rows[3].left).toBeCloseTo(0.5);
    expect(l.rows[3].width).toBeCloseTo(0.5);
    expect(l.durationMs).toBe(100);
  });
  it('draws a span whose parent is missing as a root, and survives cycles', () => {
    const l = layout([span('a', 'missing', 10, 1), span('b', 'c', 0, 1), span('c', 'b', 0, 1)]);
    expect(l.rows.map((r) => r.span.spanID)).toEqual(['a']);
    const l2 = layout([span('a', 'missing', 10, 1), span('x', 'x', 0, 1)]);
    expect(l2.rows.map((r) => r.span.spanID)).toEqual(['x', 'a']);
  });
  it('keeps a zero-length span visible and handles deep chains', () => {
    const chain = Array.from({ length: 10000 }, (_, i) => span('s' + i, i ? 's' + (i - 1) : '', i, 1));
    const l = layout(chain);
    expect(l.rows).toHaveLength(10000);
    expect(l.rows[9999].depth).toBe(9999);
    expect(layout([span('a', '', 0, 0)]).rows[0].width).toBeGreaterThan(0);
  });
});

describe('trace JSON', () => {
  it('reads Tempo\'s v1 trace', () => {
    const spans = fromTempo({
      batches: [{
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }] },
        scopeSpans: [{ spans: [{
          spanId: 'AQIDBAUGBwg=', parentSpanId: '', name: 'GET /', kind: 'SPAN_KIND_SERVER',
          startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000000001500000',
          attributes: [{ key: 'http.status_code', value: { intValue: '500' } }],
          events: [{ timeUnixNano: '1700000000001000000', name: 'exception', attributes: [] }],
          links: [{ traceId: 'AAAAAAAAAAAAAAAAAAAAAQ==', spanId: 'AQIDBAUGBwg=', attributes: [{ key: 'kind', value: { stringValue: 'batch' } }] }],
          status: { code: 'STATUS_CODE_ERROR', message: 'boom' },
        }] }],
      }],
    });
    expect(spans).toHaveLength(1);
    expect(spans[0]).toMatchObject({ spanID: '0102030405060708', parentSpanID: '', service: 'checkout', kind: 'server', startMs: 1700000000000, error: true, statusMessage: 'boom', attributes: { 'http.status_code': 500 } });
    expect(spans[0].durationMs).toBeCloseTo(1.5);
    expect(spans[0].events[0].ms).toBe(1700000000001);
    expect(spans[0].links).toEqual([{ traceID: '00000000000000000000000000000001', spanID: '0102030405060708', attributes: { kind: 'batch' } }]);
  });
  it('reads the correlate answer', () => {
    const [s] = fromCorrelate([{ spanID: 'ab', serviceName: 'cart', name: 'n', kind: 'client', status: 'error', startTime: '2026-01-02T03:04:05.123456Z', durationMs: 2, attributes: null, logCount: 1 }]);
    expect(s).toMatchObject({ spanID: 'ab', parentSpanID: '', service: 'cart', error: true, attributes: {} });
    expect(s.startMs).toBeCloseTo(Date.UTC(2026, 0, 2, 3, 4, 5, 123) + 0.456);
    expect(s).toMatchObject({ events: [], links: [], resource: {} });
    const [t] = fromCorrelate([{ spanID: 'ab', serviceName: 'cart', name: 'n', kind: 'client', status: 'ok', startTime: '2026-01-02T03:04:05Z', durationMs: 2, attributes: {},
      resource: { 'host.name': 'h' }, events: [{ time: '2026-01-02T03:04:05.5Z', name: 'retry', attributes: { n: 2 } }], links: [{ traceID: 'cd', spanID: 'ef', attributes: null }], logCount: 0 }]);
    expect(t.events).toEqual([{ ms: Date.UTC(2026, 0, 2, 3, 4, 5, 500), name: 'retry', attributes: { n: 2 } }]);
    expect(t.links).toEqual([{ traceID: 'cd', spanID: 'ef', attributes: {} }]);
    expect(t.resource).toEqual({ 'host.name': 'h' });
  });
  it('turns base64 IDs to hex', () => {
    expect(b64ToHex('AQIDBAUGBwg=')).toBe('0102030405060708');
    expect(b64ToHex('')).toBe('');
  });
});
