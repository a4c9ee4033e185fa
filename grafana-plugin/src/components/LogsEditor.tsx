import React from 'react';

import { Checkbox, InlineField, InlineFieldRow, Input, RadioButtonGroup, Stack } from '@grafana/ui';

import { buildLogsQuery, LogsBuilderState, SEVERITIES, Severity } from '../builders/logs';
import { DEFAULT_LOGS_LIMIT, LogsDirection, LogsMode, Resources } from '../types';
import { CompletionContext } from '../utils/completion';
import { EditorModeSwitch, EditorProps, useBuilder } from './editor';
import { QueryField } from './QueryField';
import { SuggestInput } from './SuggestInput';

export function LogsEditor(props: EditorProps) {
  const { datasource, query, range, onChange, onRunQuery } = props;
  const mode: LogsMode = query.logsMode ?? 'logql';
  const expr = query.expr ?? '';
  const { editorMode, setEditorMode, builder, updateBuilder } = useBuilder<LogsBuilderState>(props, (s) =>
    mode === 'trace' ? undefined : buildLogsQuery(mode, s)
  );

  const getSuggestions = (ctx: CompletionContext): Promise<string[]> => {
    switch (ctx.kind) {
      case 'labelNames':
        return datasource.fetchStrings(Resources.logLabels, {}, range);
      case 'labelValues':
        return datasource.fetchStrings(Resources.logLabelValues, { label: ctx.label! }, range);
      case 'fields':
        return datasource.fetchStrings(Resources.logFields, {}, range);
      default:
        return Promise.resolve([]);
    }
  };

  const toggleSeverity = (s: Severity, on: boolean) => {
    const current = builder.severities ?? [];
    const severities = on ? SEVERITIES.filter((x) => x === s || current.includes(x)) : current.filter((x) => x !== s);
    updateBuilder({ ...builder, severities }, true);
  };

  return (
    <Stack direction="column" gap={1}>
      <InlineFieldRow>
        <InlineField label="Language" tooltip="LogQL, or Sightline's full-text search (field:value, &quot;phrases&quot;, AND/OR/NOT)">
          <RadioButtonGroup<LogsMode>
            size="sm"
            options={[
              { label: 'LogQL', value: 'logql' },
              { label: 'Search', value: 'search' },
              { label: 'Trace ID', value: 'trace' },
            ]}
            value={mode}
            onChange={(m) => {
              // A builder query is rewritten in the other language; a typed one is kept.
              const next = editorMode === 'builder' && m !== 'trace' ? buildLogsQuery(m, builder) : expr;
              onChange({ ...query, logsMode: m, expr: next });
            }}
          />
        </InlineField>
        {mode !== 'trace' && <EditorModeSwitch value={editorMode} onChange={setEditorMode} codeLabel="Code" />}
      </InlineFieldRow>

      {mode === 'trace' ? (
        // Every line of a trace (or of one span), from the trace-ID index:
        // no time range needed. A span's "Logs of this span" link opens this.
        <InlineFieldRow>
          <InlineField label="Trace ID" labelWidth={12}>
            <Input
              aria-label="Logs trace ID"
              width={40}
              placeholder="4bf92f3577b34da6a3ce929d0e0e4736"
              value={query.traceId ?? ''}
              onChange={(e) => onChange({ ...query, traceId: e.currentTarget.value.trim() })}
              onBlur={onRunQuery}
            />
          </InlineField>
          <InlineField label="Span ID" labelWidth={10} tooltip="Only this span's lines; empty for the whole trace">
            <Input
              aria-label="Logs span ID"
              width={24}
              placeholder="any span"
              value={query.spanId ?? ''}
              onChange={(e) => onChange({ ...query, spanId: e.currentTarget.value.trim() })}
              onBlur={onRunQuery}
            />
          </InlineField>
        </InlineFieldRow>
      ) : editorMode === 'builder' ? (
        <Stack direction="column" gap={1}>
          <InlineFieldRow>
            <InlineField label="Service" labelWidth={12}>
              <SuggestInput
                label="Service"
                width={30}
                placeholder="any"
                value={builder.service ?? ''}
                loadOptions={() => datasource.fetchStrings(Resources.logLabelValues, { label: 'service_name' }, range)}
                onChange={(v) => updateBuilder({ ...builder, service: v }, false)}
                onCommit={onRunQuery}
              />
            </InlineField>
            <InlineField label="Words" labelWidth={10} tooltip='Every word or "quoted phrase" must occur in the line'>
              <Input
                aria-label="Words"
                width={40}
                placeholder='timeout "payment failed"'
                value={builder.words ?? ''}
                onChange={(e) => updateBuilder({ ...builder, words: e.currentTarget.value }, false)}
                onBlur={onRunQuery}
              />
            </InlineField>
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Severity" labelWidth={12}>
              <Stack direction="row" gap={2} alignItems="center">
                {SEVERITIES.map((s) => (
                  <Checkbox
                    key={s}
                    label={s}
                    value={(builder.severities ?? []).includes(s)}
                    onChange={(e) => toggleSeverity(s, e.currentTarget.checked)}
                  />
                ))}
              </Stack>
            </InlineField>
          </InlineFieldRow>
          <code aria-label="Generated query">{expr || ' '}</code>
        </Stack>
      ) : (
        <QueryField
          label="Logs query"
          language={mode === 'search' ? 'search' : 'logql'}
          value={expr}
          placeholder={
            mode === 'search'
              ? 'service.name:checkout AND "payment failed" AND severity_text:ERROR'
              : '{service_name="checkout"} |= "timeout"'
          }
          onChange={(v) => onChange({ ...query, expr: v })}
          onRunQuery={onRunQuery}
          getSuggestions={getSuggestions}
        />
      )}

      <InlineFieldRow>
        <InlineField label="Direction">
          <RadioButtonGroup<LogsDirection>
            size="sm"
            options={[
              { label: 'Newest first', value: 'backward' },
              { label: 'Oldest first', value: 'forward' },
            ]}
            value={query.direction ?? 'backward'}
            onChange={(d) => {
              onChange({ ...query, direction: d });
              onRunQuery();
            }}
          />
        </InlineField>
        <InlineField label="Limit">
          <Input
            aria-label="Limit"
            type="number"
            min={1}
            width={10}
            placeholder={String(DEFAULT_LOGS_LIMIT)}
            value={query.limit ?? ''}
            onChange={(e) => onChange({ ...query, limit: parseLimit(e.currentTarget.value) })}
            onBlur={onRunQuery}
          />
        </InlineField>
      </InlineFieldRow>
    </Stack>
  );
}

export function parseLimit(v: string): number | undefined {
  const n = parseInt(v, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}
