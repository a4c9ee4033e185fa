// The trace search builder's fields, written as a TraceQL spanset filter.

export interface TraceSearch {
  service: string;
  name: string;
  status: '' | 'error' | 'ok' | 'unset';
  minDuration: string; // TraceQL duration, e.g. 100ms
  maxDuration: string;
}

const quote = (s: string) => JSON.stringify(s);
const durationRe = /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/;

export function buildTraceQL(b: TraceSearch): string {
  const conds: string[] = [];
  if (b.service) conds.push(`resource.service.name = ${quote(b.service)}`);
  if (b.name) conds.push(`name = ${quote(b.name)}`);
  if (b.status) conds.push(`status = ${b.status}`);
  if (durationRe.test(b.minDuration.trim())) conds.push(`duration >= ${b.minDuration.trim()}`);
  if (durationRe.test(b.maxDuration.trim())) conds.push(`duration <= ${b.maxDuration.trim()}`);
  return conds.length ? `{ ${conds.join(' && ')} }` : '{ }';
}
