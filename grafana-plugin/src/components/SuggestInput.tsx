import { css } from '@emotion/css';
import React, { useId, useState } from 'react';

import { Input } from '@grafana/ui';

import { rankSuggestions } from '../utils/completion';
import { SuggestionList } from './SuggestionList';

interface Props {
  value: string;
  onChange: (value: string) => void;
  /** Called when a value is picked or the field loses focus. */
  onCommit?: () => void;
  /** Loads the candidates (once per focus). */
  loadOptions: () => Promise<string[]>;
  placeholder?: string;
  label: string;
  width?: number;
}

/** A text input that offers the values a resource knows (services, span names, ...). */
export function SuggestInput({ value, onChange, onCommit, loadOptions, placeholder, label, width }: Props) {
  const id = useId();
  const [all, setAll] = useState<string[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const items = open ? rankSuggestions(all, value, 30) : [];

  const pick = (v: string) => {
    onChange(v);
    setOpen(false);
    onCommit?.();
  };

  return (
    <div className={css({ position: 'relative' })}>
      <Input
        aria-label={label}
        role="combobox"
        aria-expanded={items.length > 0}
        aria-controls={id}
        value={value}
        width={width}
        placeholder={placeholder}
        onFocus={() => {
          setOpen(true);
          loadOptions()
            .then(setAll)
            .catch(() => setAll([]));
        }}
        onBlur={() => {
          setOpen(false);
          onCommit?.();
        }}
        onChange={(e) => {
          onChange(e.currentTarget.value);
          setOpen(true);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (items.length === 0) {
            return;
          }
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setActive((a) => (a + 1) % items.length);
          } else if (e.key === 'ArrowUp') {
            e.preventDefault();
            setActive((a) => (a - 1 + items.length) % items.length);
          } else if (e.key === 'Enter') {
            e.preventDefault();
            pick(items[active]);
          } else if (e.key === 'Escape') {
            setOpen(false);
          }
        }}
      />
      <SuggestionList id={id} label={`${label} suggestions`} items={items} active={active} onPick={pick} />
    </div>
  );
}
