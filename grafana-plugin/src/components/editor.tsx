import React, { useState } from 'react';

import { TimeRange } from '@grafana/data';
import { InlineField, RadioButtonGroup } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { SightlineQuery } from '../types';

/** What the query editor hands each query type's editor. */
export interface EditorProps {
  datasource: DataSource;
  query: SightlineQuery;
  range?: TimeRange;
  onChange: (q: SightlineQuery) => void;
  onRunQuery: () => void;
}

export type EditorMode = 'builder' | 'code';

/**
 * The state of an editor with a builder: which of builder and code is shown
 * (the builder for an empty query), the builder's fields, and updateBuilder,
 * which writes the query the fields build (build returns undefined to keep
 * the expression) and runs it when asked.
 */
export function useBuilder<S extends object>({ query, onChange, onRunQuery }: EditorProps, build: (s: S) => string | undefined) {
  const expr = query.expr ?? '';
  const [editorMode, setEditorMode] = useState<EditorMode>(expr.trim() === '' ? 'builder' : 'code');
  const [builder, setBuilder] = useState<S>({} as S);
  const updateBuilder = (next: S, run: boolean) => {
    setBuilder(next);
    onChange({ ...query, expr: build(next) ?? expr });
    if (run) {
      onRunQuery();
    }
  };
  return { editorMode, setEditorMode, builder, updateBuilder };
}

/** The Builder / code switch; codeLabel names the code editor's language. */
export function EditorModeSwitch({ value, onChange, codeLabel }: { value: EditorMode; onChange: (m: EditorMode) => void; codeLabel: string }) {
  return (
    <InlineField label="Editor">
      <RadioButtonGroup<EditorMode>
        size="sm"
        options={[
          { label: 'Builder', value: 'builder' },
          { label: codeLabel, value: 'code' },
        ]}
        value={value}
        onChange={onChange}
      />
    </InlineField>
  );
}
