import { SightlineQuery, LOGS_VOLUME_REFID_PREFIX } from '../types';

/**
 * The logs-volume query that goes with a logs query: same expression and
 * mode, queryType 'logsVolume', its own refId. Undefined for anything that is
 * not a non-empty logs query.
 */
export function logsVolumeQuery(query: SightlineQuery): SightlineQuery | undefined {
  if (query.queryType !== 'logs' || !query.expr || query.expr.trim() === '') {
    return undefined;
  }
  return {
    refId: `${LOGS_VOLUME_REFID_PREFIX}${query.refId}`,
    datasource: query.datasource,
    queryType: 'logsVolume',
    expr: query.expr,
    logsMode: query.logsMode ?? 'logql',
  };
}
