import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  DataSourceWithQueryModificationSupport,
  DataSourceWithSupplementaryQueriesSupport,
  DataSourceWithToggleableQueryFiltersSupport,
  LegacyMetricFindQueryOptions,
  LiveChannelScope,
  LoadingState,
  MetricFindValue,
  QueryFilterOptions,
  QueryFixAction,
  ScopedVars,
  SupplementaryQueryOptions,
  SupplementaryQueryType,
  TimeRange,
  AdHocVariableFilter,
  ToggleFilterAction,
} from '@grafana/data';
import { DataSourceWithBackend, getGrafanaLiveSrv, getTemplateSrv } from '@grafana/runtime';
import { merge, Observable, of } from 'rxjs';

import {
  DEFAULT_LOGS_LIMIT,
  DEFAULT_QUERY,
  Resources,
  SightlineOptions,
  SightlineQuery,
} from './types';
import { liveTailPath } from './utils/hash';
import { interpolateQuery } from './utils/interpolate';
import {
  addFieldToSearch,
  addLabelToLogQL,
  addLineFilter,
  hasLabelMatcher,
  hasSearchTerm,
  removeLabelMatcher,
  removeSearchTerm,
} from './utils/logql';
import { logsVolumeQuery } from './utils/supplementary';
import { parseVariableQuery } from './utils/variables';

/** How long a resource answer (label names, values, ...) is reused. */
const RESOURCE_TTL_MS = 60_000;

export class DataSource
  extends DataSourceWithBackend<SightlineQuery, SightlineOptions>
  implements
    DataSourceWithSupplementaryQueriesSupport<SightlineQuery>,
    DataSourceWithQueryModificationSupport<SightlineQuery>,
    DataSourceWithToggleableQueryFiltersSupport<SightlineQuery>
{
  private readonly tenant: string;
  private readonly cache = new Map<string, { at: number; value: Promise<string[]> }>();

  constructor(instanceSettings: DataSourceInstanceSettings<SightlineOptions>) {
    super(instanceSettings);
    this.tenant = instanceSettings.jsonData?.tenant ?? '';
  }

  getDefaultQuery(_app: CoreApp): Partial<SightlineQuery> {
    return { ...DEFAULT_QUERY };
  }

  filterQuery(query: SightlineQuery): boolean {
    if (query.hide) {
      return false;
    }
    const has = (s?: string) => !!s && s.trim() !== '';
    switch (query.queryType) {
      case 'traces':
        return query.tracesMode === 'traceId' ? has(query.traceId) : has(query.expr);
      case 'correlate':
        return has(query.traceId);
      default:
        return has(query.expr);
    }
  }

  applyTemplateVariables(query: SightlineQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): SightlineQuery {
    const out = interpolateQuery(query, scopedVars, getTemplateSrv().replace.bind(getTemplateSrv()));
    if (filters?.length && (out.queryType === 'logs' || out.queryType === 'logsVolume') && out.expr) {
      out.expr = applyAdHocFilters(out.expr, out.logsMode ?? 'logql', filters);
    }
    return out;
  }

  query(request: DataQueryRequest<SightlineQuery>): Observable<DataQueryResponse> {
    if (request.liveStreaming) {
      const logs = request.targets.filter((t) => t.queryType === 'logs' && this.filterQuery(t));
      if (logs.length > 0) {
        return this.runLiveTail(request, logs);
      }
    }
    return super.query(request);
  }

  /**
   * Live tail: one Grafana Live channel per logs query, served by the
   * backend's SubscribeStream/RunStream on tail/<hash>. The channel's data
   * carries the (interpolated) expression and mode; the hash keeps equal
   * queries on one channel.
   */
  private runLiveTail(request: DataQueryRequest<SightlineQuery>, targets: SightlineQuery[]): Observable<DataQueryResponse> {
    const live = getGrafanaLiveSrv();
    if (!live) {
      return of({ data: [], state: LoadingState.Error, error: { message: 'Grafana Live is not available' } });
    }
    const rangeMs = request.range ? request.range.to.valueOf() - request.range.from.valueOf() : 3_600_000;
    const streams = targets.map((t) => {
      const q = this.applyTemplateVariables(t, request.scopedVars, request.filters);
      const expr = q.expr ?? '';
      const logsMode = q.logsMode ?? 'logql';
      const path = liveTailPath(expr, logsMode, this.tenant);
      return live.getDataStream({
        key: `${request.requestId}.${t.refId}`,
        addr: {
          scope: LiveChannelScope.DataSource,
          stream: this.uid,
          namespace: this.uid,
          path,
          // Constant for a given path (Grafana Live's rule for channel data):
          // the path hashes exactly these and the tenant.
          data: { expr, logsMode },
        },
        buffer: {
          maxLength: Math.max(q.limit ?? DEFAULT_LOGS_LIMIT, 100),
          maxDelta: rangeMs + 1000,
        },
      });
    });
    return merge(...streams);
  }

  // ---- log volume (supplementary queries) ----

  getSupportedSupplementaryQueryTypes(): SupplementaryQueryType[] {
    return [SupplementaryQueryType.LogsVolume];
  }

  getSupplementaryQuery(options: SupplementaryQueryOptions, query: SightlineQuery): SightlineQuery | undefined {
    if (options.type !== SupplementaryQueryType.LogsVolume) {
      return undefined;
    }
    return logsVolumeQuery(query);
  }

  getSupplementaryRequest(
    type: SupplementaryQueryType,
    request: DataQueryRequest<SightlineQuery>,
    options?: SupplementaryQueryOptions
  ): DataQueryRequest<SightlineQuery> | undefined {
    if (type !== SupplementaryQueryType.LogsVolume) {
      return undefined;
    }
    const targets = request.targets
      .filter((t) => !t.hide)
      .map((t) => this.getSupplementaryQuery(options ?? { type }, t))
      .filter((t): t is SightlineQuery => t !== undefined);
    if (targets.length === 0) {
      return undefined;
    }
    // Explore runs this through its own logs-volume helper (which adds the
    // FullRange meta and the level colours); the inspector shows only the main query.
    return { ...request, targets, hideFromInspector: true };
  }

  // ---- query modification from log details ----

  getSupportedQueryModifications(): string[] {
    return ['ADD_FILTER', 'ADD_FILTER_OUT', 'ADD_STRING_FILTER', 'ADD_STRING_FILTER_OUT'];
  }

  modifyQuery(query: SightlineQuery, action: QueryFixAction): SightlineQuery {
    if (query.queryType !== 'logs') {
      return query;
    }
    const expr = query.expr ?? '';
    const search = query.logsMode === 'search';
    const key = action.options?.key;
    const value = action.options?.value;
    switch (action.type) {
      case 'ADD_FILTER':
      case 'ADD_FILTER_OUT': {
        if (!key || value === undefined) {
          return query;
        }
        const negate = action.type === 'ADD_FILTER_OUT';
        if (search) {
          return { ...query, expr: addFieldToSearch(expr, key, value, negate) };
        }
        const where = labelType(action, key) === 'I' || labelType(action, key) === undefined ? 'selector' : 'pipeline';
        return { ...query, expr: addLabelToLogQL(expr, key, value, negate ? '!=' : '=', where) };
      }
      case 'ADD_STRING_FILTER':
      case 'ADD_STRING_FILTER_OUT': {
        if (!value) {
          return query;
        }
        const negate = action.type === 'ADD_STRING_FILTER_OUT';
        if (search) {
          const term = /\s/.test(value) ? JSON.stringify(value) : value;
          return { ...query, expr: expr.trim() ? `${expr.trim()} AND ${negate ? 'NOT ' : ''}${term}` : term };
        }
        return { ...query, expr: addLineFilter(expr, value, negate) };
      }
      default:
        return query;
    }
  }

  /** Whether a log query already filters on key="value" (log details show the filter as active). */
  queryHasFilter(query: SightlineQuery, filter: QueryFilterOptions): boolean {
    const { key, value } = filter;
    if (query.queryType !== 'logs' || !key || value === undefined) {
      return false;
    }
    const expr = query.expr ?? '';
    return query.logsMode === 'search' ? hasSearchTerm(expr, key, value) : hasLabelMatcher(expr, key, value, '=');
  }

  /**
   * Log details' filter buttons: FILTER_FOR adds key="value", or removes it
   * when present; FILTER_OUT the same with key!="value". Either replaces the
   * opposite filter.
   */
  toggleQueryFilter(query: SightlineQuery, filter: ToggleFilterAction): SightlineQuery {
    const { key, value } = filter.options;
    if (query.queryType !== 'logs' || !key || value === undefined) {
      return query;
    }
    let expr = query.expr ?? '';
    const negate = filter.type === 'FILTER_OUT';
    if (query.logsMode === 'search') {
      if (hasSearchTerm(expr, key, value, negate)) {
        return { ...query, expr: removeSearchTerm(expr, key, value, negate) };
      }
      expr = removeSearchTerm(expr, key, value, !negate);
      return { ...query, expr: addFieldToSearch(expr, key, value, negate) };
    }
    const op = negate ? '!=' : '=';
    if (hasLabelMatcher(expr, key, value, op)) {
      return { ...query, expr: removeLabelMatcher(expr, key, value, op) };
    }
    expr = removeLabelMatcher(expr, key, value, negate ? '=' : '!=');
    const fake: QueryFixAction = { type: 'ADD_FILTER', frame: filter.frame };
    const where = labelType(fake, key) === 'I' || labelType(fake, key) === undefined ? 'selector' : 'pipeline';
    return { ...query, expr: addLabelToLogQL(expr, key, value, op, where) };
  }

  getQueryDisplayText(query: SightlineQuery): string {
    switch (query.queryType) {
      case 'correlate':
        return `correlate ${query.traceId ?? ''}`;
      case 'traces':
        return query.tracesMode === 'traceId' ? `trace ${query.traceId ?? ''}` : query.expr ?? '';
      default:
        return query.expr ?? '';
    }
  }

  // ---- resources (autocomplete, variables, ad-hoc filters) ----

  /**
   * GETs one of the backend's resources (a JSON array of strings), with the
   * range as start/end unix seconds; answers are cached for a minute.
   */
  fetchStrings(resource: string, params: Record<string, string> = {}, range?: TimeRange): Promise<string[]> {
    const p: Record<string, string> = { ...params };
    if (range) {
      // Round to the minute so the cache is useful while a range slides.
      p.start = String(Math.floor(range.from.valueOf() / 60000) * 60);
      p.end = String(Math.ceil(range.to.valueOf() / 60000) * 60);
    }
    const key = resource + '?' + new URLSearchParams(Object.entries(p).sort()).toString();
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < RESOURCE_TTL_MS) {
      return hit.value;
    }
    const value = this.getResource<unknown>(resource, p).then((r) =>
      Array.isArray(r) ? r.filter((x): x is string => typeof x === 'string') : []
    );
    value.catch(() => this.cache.delete(key));
    this.cache.set(key, { at: now, value });
    return value;
  }

  async metricFindQuery(query: string, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const interpolated = getTemplateSrv().replace(query, options?.scopedVars);
    const plan = parseVariableQuery(interpolated);
    if (!plan) {
      throw new Error(
        `unsupported variable query ${JSON.stringify(query)}: use metrics(), label_names(), label_values(), ` +
          'log_labels(), log_label_values(), log_fields(), services(), trace_tags() or trace_tag_values()'
      );
    }
    let values = await this.fetchStrings(plan.resource, plan.params, options?.range);
    if (plan.filter) {
      values = values.filter((v) => plan.filter!.test(v));
    }
    return values.map((text) => ({ text, value: text }));
  }

  /** Ad-hoc filters apply to log queries, so their keys are log labels. */
  async getTagKeys(options?: DataSourceGetTagKeysOptions<SightlineQuery>): Promise<MetricFindValue[]> {
    const keys = await this.fetchStrings(Resources.logLabels, {}, options?.timeRange);
    return keys.map((text) => ({ text }));
  }

  async getTagValues(options: DataSourceGetTagValuesOptions<SightlineQuery>): Promise<MetricFindValue[]> {
    const values = await this.fetchStrings(Resources.logLabelValues, { label: options.key }, options.timeRange);
    return values.map((text) => ({ text }));
  }
}

/** The label type (I indexed, S structured metadata, P parsed) a log row's frame gives for key, if any. */
function labelType(action: QueryFixAction, key: string): string | undefined {
  const frame = action.frame;
  const field = frame?.fields.find((f) => f.name === 'labelTypes');
  const types = field?.values[0] as Record<string, string> | undefined;
  return types?.[key];
}

/** Adds ad-hoc filters to a log expression (LogQL stream selector, or search terms). */
export function applyAdHocFilters(expr: string, mode: string, filters: AdHocVariableFilter[]): string {
  let out = expr;
  for (const f of filters) {
    if (f.operator !== '=' && f.operator !== '!=') {
      continue;
    }
    out =
      mode === 'search'
        ? addFieldToSearch(out, f.key, f.value, f.operator === '!=')
        : addLabelToLogQL(out, f.key, f.value, f.operator as '=' | '!=');
  }
  return out;
}
