import { ScopedVars } from '@grafana/data';

import { SightlineQuery } from '../types';
import { applySuggestion, completionContext, rankSuggestions } from '../utils/completion';
import { liveTailPath, stableHash } from '../utils/hash';
import { interpolateQuery, regexFormatter, ReplaceFn, searchFormatter } from '../utils/interpolate';
import {
  addFieldToSearch,
  addLabelToLogQL,
  addLineFilter,
  findSelector,
  hasLabelMatcher,
  hasSearchTerm,
  removeLabelMatcher,
  removeSearchTerm,
} from '../utils/logql';
import { logsVolumeQuery } from '../utils/supplementary';
import { parseVariableQuery } from '../utils/variables';

/** A TemplateSrv.replace stand-in: $var and ${var} from a fixed table, multi-values formatted. */
const vars: Record<string, string | string[]> = { svc: 'checkout', envs: ['prod', 'stag.e'], tid: ' abc123 ' };
const replace: ReplaceFn = (target, _scoped, format) =>
  (target ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a, b) => {
    const v = vars[a ?? b];
    if (v === undefined) {
      return m;
    }
    if (typeof format === 'function') {
      return format(v);
    }
    return Array.isArray(v) ? v.join(',') : v;
  });

describe('template interpolation', () => {
  const scoped: ScopedVars = {};

  it('interpolates expr and traceId', () => {
    const q: SightlineQuery = { refId: 'A', queryType: 'logs', expr: '{service_name="$svc"}', traceId: '$tid' };
    expect(interpolateQuery(q, scoped, replace)).toEqual({
      refId: 'A',
      queryType: 'logs',
      expr: '{service_name="checkout"}',
      traceId: 'abc123',
    });
  });

  it('formats multi-values as an escaped regex alternation for PromQL/LogQL/TraceQL', () => {
    const q: SightlineQuery = { refId: 'A', queryType: 'metrics', expr: 'up{env=~"${envs}"}' };
    expect(interpolateQuery(q, scoped, replace).expr).toBe('up{env=~"(prod|stag\\.e)"}');
  });

  it('formats multi-values as an OR group in full-text search', () => {
    const q: SightlineQuery = { refId: 'A', queryType: 'logs', logsMode: 'search', expr: 'env:$envs' };
    expect(interpolateQuery(q, scoped, replace).expr).toBe('env:(prod OR stag.e)');
  });

  it('formatters leave single values alone', () => {
    expect(regexFormatter('a.b')).toBe('a.b');
    expect(regexFormatter(['a.b'])).toBe('a.b');
    expect(searchFormatter(['x', 'y'])).toBe('(x OR y)');
  });

  it('keeps {{label}} legend placeholders', () => {
    const q: SightlineQuery = { refId: 'A', queryType: 'metrics', expr: 'up', legendFormat: '{{job}} $svc' };
    expect(interpolateQuery(q, scoped, replace).legendFormat).toBe('{{job}} checkout');
  });
});

describe('logs volume query', () => {
  it('copies expr and mode into a logsVolume query with its own refId', () => {
    expect(
      logsVolumeQuery({ refId: 'A', queryType: 'logs', expr: 'timeout', logsMode: 'search', limit: 10, direction: 'forward' })
    ).toEqual({ refId: 'log-volume-A', queryType: 'logsVolume', expr: 'timeout', logsMode: 'search', datasource: undefined });
  });
  it('defaults the mode to logql', () => {
    expect(logsVolumeQuery({ refId: 'B', queryType: 'logs', expr: '{a="b"}' })?.logsMode).toBe('logql');
  });
  it('is undefined for other query types and empty expressions', () => {
    expect(logsVolumeQuery({ refId: 'A', queryType: 'metrics', expr: 'up' })).toBeUndefined();
    expect(logsVolumeQuery({ refId: 'A', queryType: 'logs', expr: '  ' })).toBeUndefined();
  });
});

describe('LogQL modification', () => {
  it('adds a matcher to the stream selector', () => {
    expect(addLabelToLogQL('{service_name="a"} |= "x"', 'pod', 'p-1')).toBe('{service_name="a", pod="p-1"} |= "x"');
    expect(addLabelToLogQL('{}', 'pod', 'p')).toBe('{pod="p"}');
  });
  it('adds a negative matcher, once', () => {
    const once = addLabelToLogQL('{a="b"}', 'pod', 'p', '!=');
    expect(once).toBe('{a="b", pod!="p"}');
    expect(addLabelToLogQL(once, 'pod', 'p', '!=')).toBe(once);
  });
  it('ignores braces inside strings', () => {
    expect(findSelector('"{x}" {a="}"}')).toEqual({ start: 6, end: 12 });
  });
  it('creates a selector when there is none, and a pipeline stage for metadata', () => {
    expect(addLabelToLogQL('', 'a', 'b')).toBe('{a="b"}');
    expect(addLabelToLogQL('{a="b"} |= "x"', 'trace_id', 't1', '=', 'pipeline')).toBe('{a="b"} |= "x" | trace_id="t1"');
  });
  it('refuses names that are not label names', () => {
    expect(addLabelToLogQL('{a="b"}', 'service.name', 'x')).toBe('{a="b"}');
  });
  it('adds line filters and search terms', () => {
    expect(addLineFilter('{a="b"}', 'oops')).toBe('{a="b"} |= "oops"');
    expect(addLineFilter('{a="b"}', 'oops', true)).toBe('{a="b"} != "oops"');
    expect(addFieldToSearch('timeout', 'service.name', 'x')).toBe('timeout AND service.name:"x"');
    expect(addFieldToSearch('timeout', 'service.name', 'x', true)).toBe('timeout AND NOT service.name:"x"');
    expect(addFieldToSearch('', 'k', 'v')).toBe('k:"v"');
  });
});

describe('variable queries', () => {
  it('parses the supported functions', () => {
    expect(parseVariableQuery('label_values(job)')).toEqual({ resource: 'metrics/label-values', params: { label: 'job' } });
    expect(parseVariableQuery('label_values(up{env="a,b"}, instance)')).toEqual({
      resource: 'metrics/label-values',
      params: { label: 'instance', match: 'up{env="a,b"}' },
    });
    expect(parseVariableQuery('label_names()')).toEqual({ resource: 'metrics/labels', params: {} });
    expect(parseVariableQuery('log_label_values(service_name)')).toEqual({
      resource: 'logs/label-values',
      params: { label: 'service_name' },
    });
    expect(parseVariableQuery('services()')).toEqual({ resource: 'services', params: {} });
    expect(parseVariableQuery('trace_tag_values(resource.service.name)')).toEqual({
      resource: 'traces/tag-values',
      params: { tag: 'resource.service.name' },
    });
    const m = parseVariableQuery('metrics(^http_)');
    expect(m?.resource).toBe('metrics/names');
    expect(m?.filter?.test('http_requests_total')).toBe(true);
    expect(m?.filter?.test('up')).toBe(false);
  });
  it('rejects anything else', () => {
    expect(parseVariableQuery('up')).toBeUndefined();
    expect(parseVariableQuery('query_result(up)')).toBeUndefined();
    expect(parseVariableQuery('log_label_values()')).toBeUndefined();
  });
});

describe('completion', () => {
  it('completes metric names outside braces', () => {
    expect(completionContext('promql', 'sum(rate(http_re', 16)).toEqual({ kind: 'metricNames', prefix: 'http_re', from: 9 });
  });
  it('completes label names inside braces and after by (', () => {
    expect(completionContext('promql', 'up{jo', 5)).toMatchObject({ kind: 'labelNames', prefix: 'jo', from: 3 });
    expect(completionContext('promql', 'sum by (ser', 11)).toMatchObject({ kind: 'labelNames', prefix: 'ser' });
    expect(completionContext('logql', '{service_name="a", ', 19)).toMatchObject({ kind: 'labelNames', prefix: '' });
    expect(completionContext('traceql', '{ resource.serv', 15)).toMatchObject({ kind: 'labelNames', prefix: 'resource.serv' });
  });
  it('completes label values after label="', () => {
    expect(completionContext('logql', '{service_name="che', 18)).toEqual({
      kind: 'labelValues',
      label: 'service_name',
      prefix: 'che',
      from: 15,
      quote: false,
    });
    expect(completionContext('promql', 'up{job=', 7)).toMatchObject({ kind: 'labelValues', label: 'job', quote: true });
    expect(completionContext('traceql', '{resource.service.name = "c', 27)).toMatchObject({
      kind: 'labelValues',
      label: 'resource.service.name',
      prefix: 'c',
    });
  });
  it('completes fields in search mode and after a LogQL pipe', () => {
    expect(completionContext('search', 'timeout AND serv', 16)).toMatchObject({ kind: 'fields', prefix: 'serv' });
    expect(completionContext('search', 'service.name:che', 16)).toMatchObject({ kind: 'labelValues', label: 'service.name' });
    expect(completionContext('logql', '{a="b"} | sta', 13)).toMatchObject({ kind: 'fields', prefix: 'sta' });
    expect(completionContext('logql', '{a="b"} |= "x', 13).kind).toBe('none'); // line filters are free text
  });
  it('ranks prefix matches first and inserts values with quotes', () => {
    expect(rankSuggestions(['a_up', 'up', 'upper', 'x'], 'up')).toEqual(['upper', 'a_up']);
    const ctx = completionContext('logql', '{service_name="ch', 17);
    expect(applySuggestion('{service_name="ch}', 17, ctx, 'checkout')).toEqual({ text: '{service_name="checkout"}', cursor: 24 });
    const bare = completionContext('promql', 'up{job=', 7);
    expect(applySuggestion('up{job=', 7, bare, 'node')).toEqual({ text: 'up{job="node"', cursor: 13 });
  });
});

describe('live tail channel', () => {
  it('is stable and depends on expr, mode and tenant', () => {
    expect(stableHash('abc')).toBe(stableHash('abc'));
    expect(stableHash('abc')).toMatch(/^[0-9a-f]{16}$/);
    const p = liveTailPath('{a="b"}', 'logql', 't1');
    expect(p).toMatch(/^tail\/[0-9a-f]{16}$/);
    expect(liveTailPath('{a="b"}', 'logql', 't1')).toBe(p);
    expect(liveTailPath('{a="b"}', 'logql', 't2')).not.toBe(p);
    expect(liveTailPath('{a="b"}', 'search', 't1')).not.toBe(p);
  });
});

describe('toggling filters', () => {
  it('finds and removes selector matchers and pipeline stages', () => {
    const q = '{service_name="a", pod="p1"} |= "x" | trace_id="t"';
    expect(hasLabelMatcher(q, 'pod', 'p1')).toBe(true);
    expect(hasLabelMatcher(q, 'pod', 'p')).toBe(false);
    expect(hasLabelMatcher(q, 'pod', 'p1', '!=')).toBe(false);
    expect(hasLabelMatcher(q, 'trace_id', 't')).toBe(true);
    expect(removeLabelMatcher(q, 'pod', 'p1')).toBe('{service_name="a"} |= "x" | trace_id="t"');
    expect(removeLabelMatcher(q, 'service_name', 'a')).toBe('{pod="p1"} |= "x" | trace_id="t"');
    expect(removeLabelMatcher(q, 'trace_id', 't')).toBe('{service_name="a", pod="p1"} |= "x"');
    expect(removeLabelMatcher('{pod="p1"}', 'pod', 'p1')).toBe('{service_name=~".+"}');
    expect(removeLabelMatcher('{a="b", pod!="p1", c="d"}', 'pod', 'p1', '!=')).toBe('{a="b", c="d"}');
  });
  it('finds and removes search terms', () => {
    const s = 'timeout AND service.name:"x" AND NOT pod:"p"';
    expect(hasSearchTerm(s, 'service.name', 'x')).toBe(true);
    expect(hasSearchTerm(s, 'pod', 'p')).toBe(false);
    expect(hasSearchTerm(s, 'pod', 'p', true)).toBe(true);
    expect(removeSearchTerm(s, 'service.name', 'x')).toBe('timeout AND NOT pod:"p"');
    expect(removeSearchTerm(s, 'pod', 'p', true)).toBe('timeout AND service.name:"x"');
    expect(removeSearchTerm('k:"v" AND rest', 'k', 'v')).toBe('rest');
    expect(removeSearchTerm('k:"v"', 'k', 'v')).toBe('');
  });
});
