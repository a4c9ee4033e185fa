import { css } from '@emotion/css';
import React, { useCallback, useEffect, useId, useRef, useState } from 'react';

import { GrafanaTheme2 } from '@grafana/data';
import { TextArea, useStyles2 } from '@grafana/ui';

import { applySuggestion, CompletionContext, completionContext, CompletionLanguage, rankSuggestions } from '../utils/completion';
import { SuggestionList } from './SuggestionList';

/** Candidates for a completion context; text is the field's current text. */
export type SuggestionSource = (ctx: CompletionContext, text: string) => Promise<string[]>;

interface Props {
  value: string;
  language: CompletionLanguage;
  onChange: (value: string) => void;
  /** Called on blur and on Shift+Enter: the query is final. */
  onRunQuery: () => void;
  getSuggestions?: SuggestionSource;
  placeholder?: string;
  label: string;
}

/**
 * A code field (monospace text area) with completions: what to complete is
 * worked out from the text before the cursor (metric names, label names
 * inside {…}, values after label=" …), the candidates come from the
 * backend's resources. ↑/↓ choose, Enter or Tab inserts, Esc closes,
 * Shift+Enter runs the query.
 */
export function QueryField({ value, language, onChange, onRunQuery, getSuggestions, placeholder, label }: Props) {
  const styles = useStyles2(getStyles);
  const listId = useId();
  const ref = useRef<HTMLTextAreaElement>(null);
  const [items, setItems] = useState<string[]>([]);
  const [active, setActive] = useState(0);
  const [ctx, setCtx] = useState<CompletionContext | undefined>();
  const seq = useRef(0);
  const pendingCursor = useRef<number | undefined>(undefined);

  const close = useCallback(() => {
    seq.current++;
    setItems([]);
    setCtx(undefined);
  }, []);

  const suggest = useCallback(
    (text: string, cursor: number) => {
      if (!getSuggestions) {
        return;
      }
      const c = completionContext(language, text, cursor);
      if (c.kind === 'none') {
        close();
        return;
      }
      const mine = ++seq.current;
      getSuggestions(c, text)
        .then((all) => {
          if (mine !== seq.current) {
            return; // a newer keystroke has asked again
          }
          setCtx(c);
          setItems(rankSuggestions(all, c.prefix));
          setActive(0);
        })
        .catch(() => {
          if (mine === seq.current) {
            setItems([]);
          }
        });
    },
    [getSuggestions, language, close]
  );

  useEffect(() => {
    if (pendingCursor.current !== undefined && ref.current) {
      ref.current.setSelectionRange(pendingCursor.current, pendingCursor.current);
      pendingCursor.current = undefined;
    }
  }, [value]);

  const pick = (item: string) => {
    const el = ref.current;
    if (!el || !ctx) {
      return;
    }
    const cursor = el.selectionStart ?? value.length;
    const next = applySuggestion(value, cursor, ctx, item);
    pendingCursor.current = next.cursor;
    close();
    onChange(next.text);
  };

  const onKeyDown = (e: React.KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && e.shiftKey) {
      e.preventDefault();
      close();
      onRunQuery();
      return;
    }
    if (items.length === 0) {
      if (e.key === ' ' && e.ctrlKey) {
        e.preventDefault();
        const el = e.currentTarget;
        suggest(el.value, el.selectionStart ?? el.value.length);
      }
      return;
    }
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        setActive((a) => (a + 1) % items.length);
        break;
      case 'ArrowUp':
        e.preventDefault();
        setActive((a) => (a - 1 + items.length) % items.length);
        break;
      case 'Enter':
      case 'Tab':
        e.preventDefault();
        pick(items[active]);
        break;
      case 'Escape':
        e.preventDefault();
        close();
        break;
    }
  };

  return (
    <div className={styles.wrapper}>
      <TextArea
        ref={ref}
        aria-label={label}
        role="combobox"
        aria-expanded={items.length > 0}
        aria-controls={listId}
        aria-autocomplete="list"
        aria-activedescendant={items.length > 0 ? `${listId}-${active}` : undefined}
        className={styles.code}
        rows={Math.min(Math.max(value.split('\n').length, 2), 12)}
        value={value}
        placeholder={placeholder}
        spellCheck={false}
        onChange={(e) => {
          const el = e.currentTarget;
          onChange(el.value);
          suggest(el.value, el.selectionStart ?? el.value.length);
        }}
        onKeyDown={onKeyDown}
        onBlur={() => {
          close();
          onRunQuery();
        }}
      />
      <SuggestionList id={listId} label={`${label} suggestions`} items={items} active={active} onPick={pick} />
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({ position: 'relative', width: '100%' }),
  code: css({
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
});
