import { ScopedVars } from '@grafana/data';

import { escapeRegex } from '../builders/common';
import { SightlineQuery } from '../types';

/** The shape of TemplateSrv.replace, injected so this module stays pure. */
export type ReplaceFn = (
  target?: string,
  scopedVars?: ScopedVars,
  format?: string | ((value: string | string[]) => string)
) => string;

/**
 * Formats a multi-value variable inside a regex matcher (PromQL, LogQL,
 * TraceQL): values are regex-escaped and joined with |, as Prometheus' and
 * Loki's datasources do. A single value is left as it is.
 */
export function regexFormatter(value: string | string[]): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value.length === 1) {
    return value[0];
  }
  return '(' + value.map(escapeRegex).join('|') + ')';
}

/** Multi-value variables in a full-text search become (a OR b). */
export function searchFormatter(value: string | string[]): string {
  if (typeof value === 'string') {
    return value;
  }
  if (value.length === 1) {
    return value[0];
  }
  return '(' + value.join(' OR ') + ')';
}

/** Interpolates the template variables of every text field the backend reads. */
export function interpolateQuery(query: SightlineQuery, scopedVars: ScopedVars, replace: ReplaceFn): SightlineQuery {
  const fmt = query.logsMode === 'search' && (query.queryType === 'logs' || query.queryType === 'logsVolume')
    ? searchFormatter
    : regexFormatter;
  const out: SightlineQuery = { ...query };
  if (query.expr) {
    out.expr = replace(query.expr, scopedVars, fmt);
  }
  if (query.traceId) {
    out.traceId = replace(query.traceId, scopedVars).trim();
  }
  if (query.step) {
    out.step = replace(query.step, scopedVars);
  }
  if (query.legendFormat) {
    // Leave {{label}} placeholders to the backend; $var and ${var} are Grafana's.
    out.legendFormat = replace(query.legendFormat, scopedVars);
  }
  return out;
}
