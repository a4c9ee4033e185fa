import {
  DataQueryRequest,
  DataSourceInstanceSettings,
  dateTime,
  LiveChannelScope,
  SupplementaryQueryType,
  toDataFrame,
} from '@grafana/data';
import { lastValueFrom, of } from 'rxjs';

import { DataSource } from '../datasource';
import { SightlineOptions, SightlineQuery } from '../types';

const mockReplace = jest.fn((target?: string) => (target ?? '').replace(/\$svc/g, 'checkout'));
const mockGetDataStream = jest.fn();

jest.mock('@grafana/runtime', () => ({
  ...jest.requireActual('@grafana/runtime'),
  getTemplateSrv: () => ({ replace: mockReplace }),
  getGrafanaLiveSrv: () => ({ getDataStream: mockGetDataStream }),
}));

function makeDs(jsonData: SightlineOptions = { tenant: 'team-a' }) {
  const settings = {
    id: 1,
    uid: 'sl-uid',
    type: 'sightline-observability-datasource',
    name: 'Sightline',
    access: 'proxy',
    jsonData,
    meta: { id: 'sightline-observability-datasource' },
    readOnly: false,
  } as unknown as DataSourceInstanceSettings<SightlineOptions>;
  return new DataSource(settings);
}

function makeRequest(targets: SightlineQuery[], extra: Partial<DataQueryRequest<SightlineQuery>> = {}) {
  const from = dateTime(1_700_000_000_000);
  const to = dateTime(1_700_003_600_000);
  return {
    requestId: 'r1',
    interval: '15s',
    intervalMs: 15000,
    range: { from, to, raw: { from: 'now-1h', to: 'now' } },
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'explore',
    startTime: 0,
    ...extra,
  } as DataQueryRequest<SightlineQuery>;
}

describe('DataSource', () => {
  beforeEach(() => {
    mockReplace.mockClear();
    mockGetDataStream.mockReset();
  });

  describe('logs volume (supplementary queries)', () => {
    const ds = makeDs();

    it('supports LogsVolume only', () => {
      expect(ds.getSupportedSupplementaryQueryTypes()).toEqual([SupplementaryQueryType.LogsVolume]);
      expect(
        ds.getSupplementaryQuery({ type: SupplementaryQueryType.LogsSample }, { refId: 'A', queryType: 'logs', expr: 'x' })
      ).toBeUndefined();
    });

    it('makes a logsVolume query with the same expr and logsMode', () => {
      expect(
        ds.getSupplementaryQuery(
          { type: SupplementaryQueryType.LogsVolume },
          { refId: 'A', queryType: 'logs', expr: 'timeout', logsMode: 'search', limit: 5 }
        )
      ).toEqual({ refId: 'log-volume-A', queryType: 'logsVolume', expr: 'timeout', logsMode: 'search' });
    });

    it('builds a request of the logs queries only, and none when there are none', () => {
      const req = makeRequest([
        { refId: 'A', queryType: 'logs', expr: '{service_name="a"}' },
        { refId: 'B', queryType: 'metrics', expr: 'up' },
        { refId: 'C', queryType: 'logs', expr: '{x="y"}', hide: true },
      ]);
      const sup = ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, req);
      expect(sup?.targets).toEqual([
        { refId: 'log-volume-A', queryType: 'logsVolume', expr: '{service_name="a"}', logsMode: 'logql' },
      ]);
      expect(sup?.range).toBe(req.range);
      expect(sup?.hideFromInspector).toBe(true);
      expect(
        ds.getSupplementaryRequest(SupplementaryQueryType.LogsVolume, makeRequest([{ refId: 'B', queryType: 'metrics', expr: 'up' }]))
      ).toBeUndefined();
      expect(ds.getSupplementaryRequest(SupplementaryQueryType.LogsSample, req)).toBeUndefined();
    });
  });

  describe('template variables', () => {
    it('interpolates expr and traceId through TemplateSrv', () => {
      const ds = makeDs();
      const q = ds.applyTemplateVariables(
        { refId: 'A', queryType: 'traces', expr: '{resource.service.name="$svc"}', traceId: '$svc' },
        {}
      );
      expect(q.expr).toBe('{resource.service.name="checkout"}');
      expect(q.traceId).toBe('checkout');
      expect(mockReplace).toHaveBeenCalledWith('{resource.service.name="$svc"}', {}, expect.any(Function));
    });

    it('adds ad-hoc filters to log queries', () => {
      const ds = makeDs();
      const q = ds.applyTemplateVariables({ refId: 'A', queryType: 'logs', expr: '{service_name="$svc"}' }, {}, [
        { key: 'pod', operator: '=', value: 'p1' },
        { key: 'env', operator: '!=', value: 'dev' },
      ]);
      expect(q.expr).toBe('{service_name="checkout", pod="p1", env!="dev"}');
      const m = ds.applyTemplateVariables({ refId: 'A', queryType: 'metrics', expr: 'up' }, {}, [
        { key: 'pod', operator: '=', value: 'p1' },
      ]);
      expect(m.expr).toBe('up');
    });
  });

  it('filters out empty and hidden queries', () => {
    const ds = makeDs();
    expect(ds.filterQuery({ refId: 'A', queryType: 'metrics', expr: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'metrics', expr: 'up' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'metrics', expr: 'up', hide: true })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'traces', tracesMode: 'traceId', traceId: '' })).toBe(false);
    expect(ds.filterQuery({ refId: 'A', queryType: 'traces', tracesMode: 'traceId', traceId: 'abc' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'correlate', traceId: 'abc' })).toBe(true);
    expect(ds.filterQuery({ refId: 'A', queryType: 'correlate' })).toBe(false);
  });

  it('has a metrics default query', () => {
    expect(makeDs().getDefaultQuery('explore' as never)).toEqual({ queryType: 'metrics', expr: '', format: 'time_series' });
  });

  describe('live tail', () => {
    it('subscribes to tail/<hash> of the data source with expr and logsMode', async () => {
      const ds = makeDs();
      const frame = toDataFrame({ fields: [{ name: 'body', values: ['line'] }] });
      mockGetDataStream.mockReturnValue(of({ data: [frame] }));
      const req = makeRequest([{ refId: 'A', queryType: 'logs', expr: '{service_name="$svc"}' }], { liveStreaming: true });
      const rsp = await lastValueFrom(ds.query(req));
      expect(rsp.data[0]).toBe(frame);
      expect(mockGetDataStream).toHaveBeenCalledTimes(1);
      const opts = mockGetDataStream.mock.calls[0][0];
      expect(opts.addr.scope).toBe(LiveChannelScope.DataSource);
      expect(opts.addr.namespace).toBe('sl-uid');
      expect(opts.addr.stream).toBe('sl-uid');
      expect(opts.addr.path).toMatch(/^tail\/[0-9a-f]{16}$/);
      expect(opts.addr.data).toEqual({ expr: '{service_name="checkout"}', logsMode: 'logql' });
      expect(opts.key).toBe('r1.A');

      // The same query of another tenant gets another channel; the same one, the same.
      mockGetDataStream.mockClear();
      await lastValueFrom(makeDs({ tenant: 'team-b' }).query(req));
      expect(mockGetDataStream.mock.calls[0][0].addr.path).not.toBe(opts.addr.path);
      mockGetDataStream.mockClear();
      await lastValueFrom(makeDs().query(req));
      expect(mockGetDataStream.mock.calls[0][0].addr.path).toBe(opts.addr.path);
    });
  });

  describe('modifyQuery (log details filters)', () => {
    const ds = makeDs();
    it('adds label filters to the LogQL selector', () => {
      const q: SightlineQuery = { refId: 'A', queryType: 'logs', expr: '{service_name="a"}' };
      expect(ds.modifyQuery(q, { type: 'ADD_FILTER', options: { key: 'pod', value: 'p1' } }).expr).toBe(
        '{service_name="a", pod="p1"}'
      );
      expect(ds.modifyQuery(q, { type: 'ADD_FILTER_OUT', options: { key: 'pod', value: 'p1' } }).expr).toBe(
        '{service_name="a", pod!="p1"}'
      );
    });
    it('puts structured metadata in a pipeline stage when the frame says so', () => {
      const frame = toDataFrame({ fields: [{ name: 'labelTypes', values: [{ trace_id: 'S', pod: 'I' }] }] });
      const q: SightlineQuery = { refId: 'A', queryType: 'logs', expr: '{service_name="a"}' };
      expect(ds.modifyQuery(q, { type: 'ADD_FILTER', options: { key: 'trace_id', value: 't' }, frame }).expr).toBe(
        '{service_name="a"} | trace_id="t"'
      );
    });
    it('adds terms to a search and line filters to LogQL', () => {
      const s: SightlineQuery = { refId: 'A', queryType: 'logs', logsMode: 'search', expr: 'timeout' };
      expect(ds.modifyQuery(s, { type: 'ADD_FILTER', options: { key: 'service.name', value: 'x' } }).expr).toBe(
        'timeout AND service.name:"x"'
      );
      const l: SightlineQuery = { refId: 'A', queryType: 'logs', expr: '{a="b"}' };
      expect(ds.modifyQuery(l, { type: 'ADD_STRING_FILTER', options: { value: 'err' } }).expr).toBe('{a="b"} |= "err"');
    });
    it('leaves other query types alone', () => {
      const m: SightlineQuery = { refId: 'A', queryType: 'metrics', expr: 'up' };
      expect(ds.modifyQuery(m, { type: 'ADD_FILTER', options: { key: 'a', value: 'b' } })).toBe(m);
    });
  });

  describe('toggleable filters (log details)', () => {
    const ds = makeDs();
    it('adds, detects and removes a LogQL filter, and flips FOR/OUT', () => {
      let q: SightlineQuery = { refId: 'A', queryType: 'logs', expr: '{service_name="a"}' };
      q = ds.toggleQueryFilter(q, { type: 'FILTER_FOR', options: { key: 'pod', value: 'p1' } });
      expect(q.expr).toBe('{service_name="a", pod="p1"}');
      expect(ds.queryHasFilter(q, { key: 'pod', value: 'p1' })).toBe(true);
      q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'pod', value: 'p1' } });
      expect(q.expr).toBe('{service_name="a", pod!="p1"}');
      expect(ds.queryHasFilter(q, { key: 'pod', value: 'p1' })).toBe(false);
      q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'pod', value: 'p1' } });
      expect(q.expr).toBe('{service_name="a"}');
    });
    it('does the same in search mode', () => {
      let q: SightlineQuery = { refId: 'A', queryType: 'logs', logsMode: 'search', expr: 'timeout' };
      q = ds.toggleQueryFilter(q, { type: 'FILTER_FOR', options: { key: 'service.name', value: 'x' } });
      expect(q.expr).toBe('timeout AND service.name:"x"');
      expect(ds.queryHasFilter(q, { key: 'service.name', value: 'x' })).toBe(true);
      q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'service.name', value: 'x' } });
      expect(q.expr).toBe('timeout AND NOT service.name:"x"');
      q = ds.toggleQueryFilter(q, { type: 'FILTER_OUT', options: { key: 'service.name', value: 'x' } });
      expect(q.expr).toBe('timeout');
    });
  });

  describe('resources', () => {
    it('metricFindQuery asks the right resource with the range, and caches', async () => {
      const ds = makeDs();
      const spy = jest.spyOn(ds, 'getResource').mockResolvedValue(['a', 'b', 7]);
      const range = makeRequest([]).range;
      const values = await ds.metricFindQuery('label_values(up, $svc)', { range });
      expect(values).toEqual([
        { text: 'a', value: 'a' },
        { text: 'b', value: 'b' },
      ]);
      expect(spy).toHaveBeenCalledWith('metrics/label-values', {
        label: 'checkout',
        match: 'up',
        start: '1699999980', // rounded down to the minute
        end: '1700003640',
      });
      await ds.metricFindQuery('label_values(up, $svc)', { range });
      expect(spy).toHaveBeenCalledTimes(1);
    });
    it('metricFindQuery rejects unknown queries', async () => {
      await expect(makeDs().metricFindQuery('nonsense')).rejects.toThrow(/unsupported variable query/);
    });
    it('tag keys and values are log labels', async () => {
      const ds = makeDs();
      const spy = jest.spyOn(ds, 'getResource').mockResolvedValue(['service_name']);
      expect(await ds.getTagKeys()).toEqual([{ text: 'service_name' }]);
      expect(await ds.getTagValues({ key: 'service_name', filters: [] })).toEqual([{ text: 'service_name' }]);
      expect(spy.mock.calls.map((c) => c[0])).toEqual(['logs/labels', 'logs/label-values']);
    });
  });
});
