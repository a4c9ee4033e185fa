import { css, cx } from '@emotion/css';
import React from 'react';

import { GrafanaTheme2 } from '@grafana/data';
import { useStyles2 } from '@grafana/ui';

interface Props {
  id: string;
  items: string[];
  active: number;
  onPick: (item: string) => void;
  label: string;
}

/** A list of completions under a text field; clicking (mouse down) one picks it. */
export function SuggestionList({ id, items, active, onPick, label }: Props) {
  const styles = useStyles2(getStyles);
  if (items.length === 0) {
    return null;
  }
  return (
    <ul id={id} role="listbox" aria-label={label} className={styles.list}>
      {items.map((item, i) => (
        <li
          key={item}
          id={`${id}-${i}`}
          role="option"
          aria-selected={i === active}
          className={cx(styles.item, i === active && styles.active)}
          onMouseDown={(e) => {
            // mousedown, not click: the field must not lose focus first.
            e.preventDefault();
            onPick(item);
          }}
        >
          {item}
        </li>
      ))}
    </ul>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  list: css({
    position: 'absolute',
    zIndex: theme.zIndex.dropdown,
    left: 0,
    top: '100%',
    minWidth: 240,
    maxHeight: 260,
    overflowY: 'auto',
    margin: 0,
    padding: theme.spacing(0.5, 0),
    listStyle: 'none',
    background: theme.colors.background.elevated,
    border: `1px solid ${theme.colors.border.weak}`,
    boxShadow: theme.shadows.z3,
    fontFamily: theme.typography.fontFamilyMonospace,
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  item: css({
    padding: theme.spacing(0.5, 1),
    cursor: 'pointer',
    whiteSpace: 'nowrap',
    '&:hover': { background: theme.colors.action.hover },
  }),
  active: css({
    background: theme.colors.action.selected,
  }),
});
