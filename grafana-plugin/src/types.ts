import { DataQuery, DataSourceJsonData } from '@grafana/schema';

/** The kinds of query the Sightline backend answers (field `queryType`). */
export type SightlineQueryType = 'metrics' | 'logs' | 'logsVolume' | 'traces' | 'correlate';

export type MetricsFormat = 'time_series' | 'table';
export type LogsMode = 'logql' | 'search' | 'trace';
export type LogsDirection = 'backward' | 'forward';
export type TracesMode = 'search' | 'traceId';

/**
 * The query model: the contract with the Go backend. The JSON field names
 * must stay exactly as they are.
 */
export interface SightlineQuery extends DataQuery {
  queryType: SightlineQueryType;
  /** PromQL/MetricsQL (metrics), LogQL or full-text search (logs, logsVolume), TraceQL (traces search). */
  expr?: string;

  // metrics
  /** Instant query instead of a range query. */
  instant?: boolean;
  /** table => one row per series at the end of the range. */
  format?: MetricsFormat;
  /** Also return exemplars (a frame named "exemplar"). */
  exemplars?: boolean;
  /** e.g. "30s"; empty = from Grafana's interval. */
  step?: string;
  /** "{{service}}" style, as Prometheus' datasource. */
  legendFormat?: string;

  // logs / logsVolume
  /**
   * Default 'logql'; 'search' = Sightline's full-text (bleve query-string)
   * syntax; 'trace' = every line of traceId (and of spanId, when set), from
   * the trace-ID index with no time range (what a span's "Logs" link opens).
   */
  logsMode?: LogsMode;
  direction?: LogsDirection;
  /** Logs default 1000, traces default 20. */
  limit?: number;

  // traces
  /** Default 'search'. */
  tracesMode?: TracesMode;
  /** For tracesMode 'traceId', logsMode 'trace' and for 'correlate'. */
  traceId?: string;
  /** For logsMode 'trace': only this span's lines. */
  spanId?: string;
}

export interface SightlineOptions extends DataSourceJsonData {
  /** Sent as X-Scope-OrgID. */
  tenant?: string;
  tlsSkipVerify?: boolean;
}

export interface SightlineSecureJsonData {
  basicAuthPassword?: string;
  bearerToken?: string;
}

export const DEFAULT_LOGS_LIMIT = 1000;
export const DEFAULT_TRACES_LIMIT = 20;

export const DEFAULT_QUERY: Partial<SightlineQuery> = {
  queryType: 'metrics',
  expr: '',
  format: 'time_series',
};

/** The refId prefix of the supplementary logs-volume queries. */
export const LOGS_VOLUME_REFID_PREFIX = 'log-volume-';

/** Names of the backend's resource endpoints (GET /api/datasources/uid/<uid>/resources/<name>). */
export const Resources = {
  metricNames: 'metrics/names',
  metricLabels: 'metrics/labels',
  metricLabelValues: 'metrics/label-values',
  logLabels: 'logs/labels',
  logLabelValues: 'logs/label-values',
  logFields: 'logs/fields',
  traceTags: 'traces/tags',
  traceTagValues: 'traces/tag-values',
  services: 'services',
} as const;
