import React from 'react';

import { InlineField, InlineFieldRow, InlineSwitch, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import { MetricsFormat, Resources } from '../types';
import { CompletionContext } from '../utils/completion';
import { EditorProps } from './editor';
import { QueryField } from './QueryField';

/** The metric name a label completion belongs to: the identifier just before the enclosing {. */
export function metricBeforeBrace(text: string): string | undefined {
  const open = text.lastIndexOf('{');
  if (open < 0 || text.lastIndexOf('}') > open) {
    return undefined;
  }
  const m = /([A-Za-z_:][A-Za-z0-9_:]*)\s*$/.exec(text.slice(0, open));
  return m ? m[1] : undefined;
}

export function MetricsEditor({ datasource, query, range, onChange, onRunQuery }: EditorProps) {
  const expr = query.expr ?? '';
  const getSuggestions = (ctx: CompletionContext, text: string): Promise<string[]> => {
    // text, not expr: the keystroke that asked is not in the query yet.
    const metric = metricBeforeBrace(text.slice(0, ctx.from));
    const match: Record<string, string> = metric ? { match: metric } : {};
    switch (ctx.kind) {
      case 'metricNames':
        return datasource.fetchStrings(Resources.metricNames, {}, range);
      case 'labelNames':
        return datasource.fetchStrings(Resources.metricLabels, match, range);
      case 'labelValues':
        return datasource.fetchStrings(Resources.metricLabelValues, { label: ctx.label!, ...match }, range);
      default:
        return Promise.resolve([]);
    }
  };
  return (
    <Stack direction="column" gap={1}>
      <QueryField
        label="Metrics query"
        language="promql"
        value={expr}
        placeholder='PromQL or MetricsQL, e.g. sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))'
        onChange={(v) => onChange({ ...query, expr: v })}
        onRunQuery={onRunQuery}
        getSuggestions={getSuggestions}
      />
      <InlineFieldRow>
        <InlineField label="Type">
          <RadioButtonGroup<boolean>
            size="sm"
            options={[
              { label: 'Range', value: false },
              { label: 'Instant', value: true },
            ]}
            value={!!query.instant}
            onChange={(v) => {
              onChange({ ...query, instant: v });
              onRunQuery();
            }}
          />
        </InlineField>
        <InlineField label="Format">
          <RadioButtonGroup<MetricsFormat>
            size="sm"
            options={[
              { label: 'Time series', value: 'time_series' },
              { label: 'Table', value: 'table' },
            ]}
            value={query.format ?? 'time_series'}
            onChange={(v) => {
              onChange({ ...query, format: v });
              onRunQuery();
            }}
          />
        </InlineField>
        <InlineField label="Exemplars" tooltip="Also fetch the exemplars of the series (links to their traces)">
          <InlineSwitch
            aria-label="Exemplars"
            value={!!query.exemplars}
            onChange={(e) => {
              onChange({ ...query, exemplars: e.currentTarget.checked });
              onRunQuery();
            }}
          />
        </InlineField>
        <InlineField label="Step" tooltip="Resolution of a range query, e.g. 30s; empty = Grafana's interval">
          <Input
            aria-label="Step"
            width={10}
            placeholder="auto"
            value={query.step ?? ''}
            onChange={(e) => onChange({ ...query, step: e.currentTarget.value })}
            onBlur={onRunQuery}
          />
        </InlineField>
        <InlineField label="Legend" tooltip="Series name from labels, e.g. {{service}} {{status}}">
          <Input
            aria-label="Legend"
            width={24}
            placeholder="auto"
            value={query.legendFormat ?? ''}
            onChange={(e) => onChange({ ...query, legendFormat: e.currentTarget.value })}
            onBlur={onRunQuery}
          />
        </InlineField>
      </InlineFieldRow>
    </Stack>
  );
}
