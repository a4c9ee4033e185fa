import { quoteString } from './common';

export type SpanStatus = 'error' | 'ok' | 'unset';

export interface TracesBuilderState {
  service?: string;
  spanName?: string;
  status?: SpanStatus;
  /** Durations as TraceQL writes them: "100ms", "1.5s", "2m". */
  minDuration?: string;
  maxDuration?: string;
}

const DURATION = /^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/;

export function isValidDuration(d: string): boolean {
  return DURATION.test(d.trim());
}

/**
 * Builds a TraceQL spanset filter, e.g.
 * {resource.service.name="checkout" && name="GET /x" && status=error && duration>100ms}.
 * Invalid durations are left out.
 */
export function buildTraceQL(state: TracesBuilderState): string {
  const conds: string[] = [];
  if (state.service) {
    conds.push(`resource.service.name=${quoteString(state.service)}`);
  }
  if (state.spanName) {
    conds.push(`name=${quoteString(state.spanName)}`);
  }
  if (state.status) {
    conds.push(`status=${state.status}`);
  }
  if (state.minDuration && isValidDuration(state.minDuration)) {
    conds.push(`duration>${state.minDuration.trim()}`);
  }
  if (state.maxDuration && isValidDuration(state.maxDuration)) {
    conds.push(`duration<${state.maxDuration.trim()}`);
  }
  return conds.length === 0 ? '{}' : `{${conds.join(' && ')}}`;
}
