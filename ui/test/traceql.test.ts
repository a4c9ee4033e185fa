import { describe, expect, it } from 'vitest';
import { buildTraceQL } from '../src/traceql';

describe('buildTraceQL', () => {
  const none = { service: '', name: '', status: '' as const, minDuration: '', maxDuration: '' };
  it('writes the fields that are set, quoted', () => {
    expect(buildTraceQL(none)).toBe('{ }');
    expect(buildTraceQL({ ...none, service: 'check"out', status: 'error', minDuration: '100ms' })).toBe(
      '{ resource.service.name = "check\\"out" && status = error && duration >= 100ms }',
    );
    expect(buildTraceQL({ ...none, name: 'GET /', maxDuration: '2s' })).toBe('{ name = "GET /" && duration <= 2s }');
  });
  it('leaves out a duration that is not one', () => {
    expect(buildTraceQL({ ...none, minDuration: '100' })).toBe('{ }');
  });
});

import { fullTraceID } from '../src/TracesPage';

describe('fullTraceID', () => {
  it('puts back the leading zeros Tempo search leaves out', () => {
    expect(fullTraceID('fc9e308eb5216cf305390a0a4a2c3bb')).toBe('0fc9e308eb5216cf305390a0a4a2c3bb');
    expect(fullTraceID('ABC')).toBe('00000000000000000000000000000abc');
    expect(fullTraceID('not-an-id')).toBe('not-an-id');
  });
});
