import { describe, expect, it } from 'vitest';
import { autoStep, decodeState, encodeState, parseTime, resolveRange } from '../src/state';

describe('URL state', () => {
  it('round-trips the page and its parameters', () => {
    const s = { page: 'logs', params: { query: '{service_name="checkout"} |= "a&b=c #x"', from: 'now-6h', to: 'now', tenant: 'team-a' } };
    const h = encodeState(s);
    expect(h.startsWith('#/logs?')).toBe(true);
    expect(decodeState(h)).toEqual(s);
  });
  it('writes keys sorted and leaves out empty values', () => {
    expect(encodeState({ page: 'metrics', params: { to: 'now', query: 'up', from: '', tenant: 'a' } })).toBe('#/metrics?query=up&tenant=a&to=now');
  });
  it('defaults to the metrics page', () => {
    expect(decodeState('')).toEqual({ page: 'metrics', params: {} });
    expect(decodeState('#/')).toEqual({ page: 'metrics', params: {} });
    expect(decodeState('#/traces')).toEqual({ page: 'traces', params: {} });
  });
});

describe('times', () => {
  const now = Date.UTC(2026, 0, 2, 3, 4, 5);
  it('reads relative, absolute and Unix times', () => {
    expect(parseTime('now', now)).toBe(now);
    expect(parseTime('now-15m', now)).toBe(now - 15 * 60e3);
    expect(parseTime('now-2d', now)).toBe(now - 2 * 86400e3);
    expect(parseTime('2026-01-02T03:04:05Z', now)).toBe(now);
    expect(parseTime(String(now / 1000), now)).toBe(now);
    expect(parseTime(String(now), now)).toBe(now);
    expect(parseTime('yesterday', now)).toBeNaN();
  });
  it('falls back to the last hour on a bad range', () => {
    expect(resolveRange({ from: 'now', to: 'now-1h' }, now)).toEqual({ start: now - 3600e3 - 3600e3, end: now - 3600e3 });
    expect(resolveRange({}, now)).toEqual({ start: now - 3600e3, end: now });
  });
  it('picks a step of about 250 points', () => {
    expect(autoStep({ start: 0, end: 3600e3 })).toBe(14);
    expect(autoStep({ start: 0, end: 10e3 })).toBe(1);
  });
});
