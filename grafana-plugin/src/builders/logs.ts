import { LogsMode } from '../types';
import { escapeRegex, quoteString, splitWords } from './common';

/** The severities the builder offers, as Loki's detected_level names them. */
export const SEVERITIES = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** OTLP severity-number ranges of each level (the search syntax filters on severity_number). */
const SEVERITY_NUMBERS: Record<Severity, [number, number]> = {
  trace: [1, 4],
  debug: [5, 8],
  info: [9, 12],
  warn: [13, 16],
  error: [17, 20],
  fatal: [21, 24],
};

export interface LogsBuilderState {
  service?: string;
  severities?: Severity[];
  /** Free text: words, or "quoted phrases"; every one must occur in the line. */
  words?: string;
}

/**
 * Builds a LogQL log query: the service and levels go into the stream selector
 * (service_name and detected_level are stream labels in Sightline, as in Loki's
 * OTLP mapping), every word or phrase becomes a line filter (|= "word").
 */
export function buildLogQL(state: LogsBuilderState): string {
  const matchers: string[] = [];
  if (state.service) {
    matchers.push(`service_name=${quoteString(state.service)}`);
  }
  const sev = state.severities ?? [];
  if (sev.length === 1) {
    matchers.push(`detected_level=${quoteString(sev[0])}`);
  } else if (sev.length > 1) {
    matchers.push(`detected_level=~${quoteString(sev.map(escapeRegex).join('|'))}`);
  }
  if (matchers.length === 0) {
    matchers.push('service_name=~".+"');
  }
  let q = `{${matchers.join(', ')}}`;
  for (const w of splitWords(state.words ?? '')) {
    q += ` |= ${quoteString(w)}`;
  }
  return q;
}

/** Characters with a meaning in bleve's query-string syntax. */
const BLEVE_SPECIAL = /[+\-=&|><!(){}[\]^"~*?:\\/\s]/;

function searchValue(v: string): string {
  return BLEVE_SPECIAL.test(v) ? quoteString(v) : v;
}

/**
 * Builds a Sightline full-text search (bleve query-string syntax): exact
 * service.name, severity_number ranges, and every word or phrase required.
 */
export function buildSearch(state: LogsBuilderState): string {
  const parts: string[] = [];
  if (state.service) {
    parts.push(`service.name:${searchValue(state.service)}`);
  }
  const sev = state.severities ?? [];
  const ranges = sev.map((s) => {
    const [lo, hi] = SEVERITY_NUMBERS[s];
    return `(severity_number:>=${lo} AND severity_number:<=${hi})`;
  });
  if (ranges.length === 1) {
    parts.push(ranges[0]);
  } else if (ranges.length > 1) {
    parts.push(`(${ranges.join(' OR ')})`);
  }
  for (const w of splitWords(state.words ?? '')) {
    parts.push(/\s/.test(w) ? quoteString(w) : searchValue(w));
  }
  return parts.join(' AND ');
}

export function buildLogsQuery(mode: Exclude<LogsMode, 'trace'>, state: LogsBuilderState): string {
  return mode === 'search' ? buildSearch(state) : buildLogQL(state);
}
