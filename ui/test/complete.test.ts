import { describe, expect, it } from 'vitest';
import { completionContext } from '../src/complete';
import { parseMatchers } from '../src/AlertsPage';

describe('completionContext', () => {
  const at = (s: string) => completionContext(s.replace('|', ''), s.indexOf('|'));
  it('finds metric names, label names and values', () => {
    expect(at('rate(http_req|')).toMatchObject({ kind: 'metric', word: 'http_req', from: 5 });
    expect(at('up{|')).toMatchObject({ kind: 'label', word: '', metric: 'up' });
    expect(at('up{job="a", ins|')).toMatchObject({ kind: 'label', word: 'ins', metric: 'up' });
    expect(at('up{job="pro|"}')).toMatchObject({ kind: 'value', word: 'pro', label: 'job', metric: 'up', to: 11 });
    expect(at('sum by (jo|) (up)')).toMatchObject({ kind: 'label', word: 'jo' });
    expect(at('rate(up[5|')).toBeNull();
  });
});

describe('parseMatchers', () => {
  it('reads Alertmanager matchers', () => {
    expect(parseMatchers('alertname="A", sev=~"crit.*",x!="y"')).toEqual([
      { name: 'alertname', value: 'A', isRegex: false, isEqual: true },
      { name: 'sev', value: 'crit.*', isRegex: true, isEqual: true },
      { name: 'x', value: 'y', isRegex: false, isEqual: false },
    ]);
    expect(() => parseMatchers('alertname=A')).toThrow();
  });
});

import { promRegexQuote, redQueries } from '../src/CorrelatePage';

describe('the correlate page RED queries', () => {
  it('select the trace services, quoted', () => {
    expect(promRegexQuote('a.b"c')).toBe('a\\\\.b\\"c');
    const [rate, errors, p99] = redQueries(['checkout', 'payment']);
    expect(rate.query).toBe('sum by (service) (rate(traces_spanmetrics_calls_total{service=~"checkout|payment", span_kind=~"SPAN_KIND_SERVER|SPAN_KIND_CONSUMER"}[2m]))');
    expect(errors.query).toContain('status_code="STATUS_CODE_ERROR"');
    expect(p99.query).toBe('histogram_quantile(0.99, sum by (service, le) (rate(traces_spanmetrics_latency_bucket{service=~"checkout|payment"}[2m])))');
  });
});
