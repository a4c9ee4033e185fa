import React from 'react';

import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { SightlineOptions, SightlineQuery, SightlineQueryType } from '../types';
import { LogsEditor } from './LogsEditor';
import { MetricsEditor } from './MetricsEditor';
import { TracesEditor } from './TracesEditor';

export type Props = QueryEditorProps<DataSource, SightlineQuery, SightlineOptions>;

const TYPES: Array<SelectableValue<SightlineQueryType>> = [
  { label: 'Metrics', value: 'metrics', description: 'PromQL / MetricsQL' },
  { label: 'Logs', value: 'logs', description: 'LogQL or full-text search' },
  { label: 'Traces', value: 'traces', description: 'TraceQL search or a trace by ID' },
  { label: 'Correlate', value: 'correlate', description: "A trace with its logs and its services' RED metrics" },
];

/**
 * The query a type switch produces: the common fields (refId, datasource,
 * hide) kept, the old type's fields dropped, the new type's defaults set. A
 * trace ID survives a switch between traces and correlate.
 */
export function switchQueryType(query: SightlineQuery, queryType: SightlineQueryType): SightlineQuery {
  const base: SightlineQuery = { refId: query.refId, queryType };
  if (query.datasource) {
    base.datasource = query.datasource;
  }
  if (query.hide) {
    base.hide = query.hide;
  }
  switch (queryType) {
    case 'metrics':
      return { ...base, expr: '', format: 'time_series' };
    case 'logs':
      return { ...base, expr: '', logsMode: 'logql', direction: 'backward' };
    case 'traces':
      return query.traceId
        ? { ...base, tracesMode: 'traceId', traceId: query.traceId }
        : { ...base, expr: '', tracesMode: 'search' };
    case 'correlate':
      return { ...base, traceId: query.traceId ?? '' };
    default:
      return { ...base, expr: '' };
  }
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  // A logsVolume query is only made by the supplementary request; show it as logs.
  const type: SightlineQueryType = query.queryType === 'logsVolume' ? 'logs' : query.queryType ?? 'metrics';
  const q: SightlineQuery = { ...query, queryType: type };
  return (
    <Stack direction="column" gap={1}>
      <RadioButtonGroup<SightlineQueryType>
        aria-label="Query type"
        options={TYPES}
        value={type}
        onChange={(t) => {
          if (t !== type) {
            onChange(switchQueryType(q, t));
          }
        }}
      />
      {type === 'metrics' && (
        <MetricsEditor datasource={datasource} query={q} range={range} onChange={onChange} onRunQuery={onRunQuery} />
      )}
      {type === 'logs' && (
        <LogsEditor datasource={datasource} query={q} range={range} onChange={onChange} onRunQuery={onRunQuery} />
      )}
      {type === 'traces' && (
        <TracesEditor datasource={datasource} query={q} range={range} onChange={onChange} onRunQuery={onRunQuery} />
      )}
      {type === 'correlate' && (
        <InlineField
          label="Trace ID"
          labelWidth={14}
          grow
          tooltip="The trace, its spans' log lines and the RED metrics of its services around it"
        >
          <Input
            aria-label="Trace ID"
            placeholder="4bf92f3577b34da6a3ce929d0e0e4736"
            value={q.traceId ?? ''}
            onChange={(e) => onChange({ ...q, traceId: e.currentTarget.value.trim() })}
            onBlur={onRunQuery}
          />
        </InlineField>
      )}
    </Stack>
  );
}
