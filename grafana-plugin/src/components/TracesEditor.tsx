import React from 'react';

import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import { buildTraceQL, SpanStatus, TracesBuilderState } from '../builders/traces';
import { DEFAULT_TRACES_LIMIT, Resources, TracesMode } from '../types';
import { CompletionContext } from '../utils/completion';
import { parseLimit } from './LogsEditor';
import { EditorModeSwitch, EditorProps, useBuilder } from './editor';
import { QueryField } from './QueryField';
import { SuggestInput } from './SuggestInput';

export function TracesEditor(props: EditorProps) {
  const { datasource, query, range, onChange, onRunQuery } = props;
  const mode: TracesMode = query.tracesMode ?? 'search';
  const expr = query.expr ?? '';
  const { editorMode, setEditorMode, builder, updateBuilder } = useBuilder<TracesBuilderState>(props, buildTraceQL);

  const getSuggestions = (ctx: CompletionContext): Promise<string[]> => {
    switch (ctx.kind) {
      case 'labelNames':
        return datasource.fetchStrings(Resources.traceTags, {}, range);
      case 'labelValues':
        return datasource.fetchStrings(Resources.traceTagValues, { tag: ctx.label! }, range);
      default:
        return Promise.resolve([]);
    }
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField label="Query by">
          <RadioButtonGroup<TracesMode>
            size="sm"
            options={[
              { label: 'Search', value: 'search' },
              { label: 'Trace ID', value: 'traceId' },
            ]}
            value={mode}
            onChange={(m) => onChange({ ...query, tracesMode: m })}
          />
        </InlineField>
        {mode === 'search' && <EditorModeSwitch value={editorMode} onChange={setEditorMode} codeLabel="TraceQL" />}
      </InlineFieldRow>

      {mode === 'traceId' && (
        <InlineField label="Trace ID" labelWidth={14} grow>
          <Input
            aria-label="Trace ID"
            placeholder="4bf92f3577b34da6a3ce929d0e0e4736"
            value={query.traceId ?? ''}
            onChange={(e) => onChange({ ...query, traceId: e.currentTarget.value.trim() })}
            onBlur={onRunQuery}
          />
        </InlineField>
      )}

      {mode === 'search' && editorMode === 'builder' && (
        <Stack direction="column" gap={1}>
          <InlineFieldRow>
            <InlineField label="Service" labelWidth={14}>
              <SuggestInput
                label="Service"
                width={28}
                placeholder="any"
                value={builder.service ?? ''}
                loadOptions={() => datasource.fetchStrings(Resources.services, {}, range)}
                onChange={(v) => updateBuilder({ ...builder, service: v }, false)}
                onCommit={onRunQuery}
              />
            </InlineField>
            <InlineField label="Span name" labelWidth={12}>
              <SuggestInput
                label="Span name"
                width={28}
                placeholder="any"
                value={builder.spanName ?? ''}
                loadOptions={() => datasource.fetchStrings(Resources.traceTagValues, { tag: 'name' }, range)}
                onChange={(v) => updateBuilder({ ...builder, spanName: v }, false)}
                onCommit={onRunQuery}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Status" labelWidth={14}>
              <RadioButtonGroup<SpanStatus | ''>
                size="sm"
                options={[
                  { label: 'Any', value: '' },
                  { label: 'Error', value: 'error' },
                  { label: 'OK', value: 'ok' },
                  { label: 'Unset', value: 'unset' },
                ]}
                value={builder.status ?? ''}
                onChange={(s) => updateBuilder({ ...builder, status: s || undefined }, true)}
              />
            </InlineField>
            <InlineField label="Min duration" tooltip="e.g. 100ms, 1.5s">
              <Input
                aria-label="Min duration"
                width={10}
                placeholder="100ms"
                value={builder.minDuration ?? ''}
                onChange={(e) => updateBuilder({ ...builder, minDuration: e.currentTarget.value }, false)}
                onBlur={onRunQuery}
              />
            </InlineField>
            <InlineField label="Max duration">
              <Input
                aria-label="Max duration"
                width={10}
                placeholder="5s"
                value={builder.maxDuration ?? ''}
                onChange={(e) => updateBuilder({ ...builder, maxDuration: e.currentTarget.value }, false)}
                onBlur={onRunQuery}
              />
            </InlineField>
          </InlineFieldRow>
          <code aria-label="Generated query">{expr || ' '}</code>
        </Stack>
      )}

      {mode === 'search' && editorMode === 'code' && (
        <QueryField
          label="TraceQL query"
          language="traceql"
          value={expr}
          placeholder='{resource.service.name="checkout" && status=error && duration>500ms}'
          onChange={(v) => onChange({ ...query, expr: v })}
          onRunQuery={onRunQuery}
          getSuggestions={getSuggestions}
        />
      )}

      {mode === 'search' && (
        <InlineField label="Limit" labelWidth={14}>
          <Input
            aria-label="Limit"
            type="number"
            min={1}
            width={10}
            placeholder={String(DEFAULT_TRACES_LIMIT)}
            value={query.limit ?? ''}
            onChange={(e) => onChange({ ...query, limit: parseLimit(e.currentTarget.value) })}
            onBlur={onRunQuery}
          />
        </InlineField>
      )}
    </Stack>
  );
}
