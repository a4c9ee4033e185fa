/** The languages the query field completes. */
export type CompletionLanguage = 'promql' | 'logql' | 'search' | 'traceql';

export type CompletionKind = 'metricNames' | 'labelNames' | 'labelValues' | 'fields' | 'none';

export interface CompletionContext {
  kind: CompletionKind;
  /** For labelValues: the label (or TraceQL tag) whose values are wanted. */
  label?: string;
  /** The part of the word already typed. */
  prefix: string;
  /** Where the typed word starts: a suggestion replaces text[from, cursor). */
  from: number;
  /** Whether a chosen value must be wrapped in double quotes. */
  quote?: boolean;
}

/** Is the cursor inside a {...} selector (not counting braces in strings)? */
function insideBraces(text: string): boolean {
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === '\\' && quote !== '`') {
        i++;
      } else if (c === quote) {
        quote = null;
      }
    } else if (c === '"' || c === '`') {
      quote = c;
    } else if (c === '{') {
      depth++;
    } else if (c === '}') {
      depth = Math.max(0, depth - 1);
    }
  }
  return depth > 0;
}


/**
 * Works out what to complete at the cursor: a label value after label="…,
 * a label (or tag) name inside {…}, a metric name or field name elsewhere.
 */
export function completionContext(language: CompletionLanguage, text: string, cursor: number): CompletionContext {
  const before = text.slice(0, cursor);

  // A value: label="par, label=~"par, label!="par (TraceQL: tag = "par).
  const valueMatch = /([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
  if (valueMatch && language !== 'search') {
    const prefix = valueMatch[3];
    return { kind: 'labelValues', label: valueMatch[1], prefix, from: cursor - prefix.length, quote: false };
  }
  // label= without a quote yet: offer values with quotes.
  const bareValue = /([A-Za-z_][A-Za-z0-9_.]*)\s*(=~|!~|!=|=)\s*$/.exec(before);
  if (bareValue && language !== 'search' && (language === 'traceql' || insideBraces(before))) {
    return { kind: 'labelValues', label: bareValue[1], prefix: '', from: cursor, quote: true };
  }
  if (language === 'search') {
    // field:val
    const fieldValue = /([A-Za-z_][A-Za-z0-9_.]*):"?([^\s:"]*)$/.exec(before);
    if (fieldValue) {
      const prefix = fieldValue[2];
      return { kind: 'labelValues', label: fieldValue[1], prefix, from: cursor - prefix.length, quote: false };
    }
    const w = /[A-Za-z0-9_.]*$/.exec(before)![0];
    return { kind: 'fields', prefix: w, from: cursor - w.length };
  }

  // PromQL metric names may hold colons (recording rules), TraceQL tags dots.
  const word = (language === 'promql' ? /[A-Za-z0-9_:]*$/ : /[A-Za-z0-9_.]*$/).exec(before)![0];
  const from = cursor - word.length;
  if (insideBraces(before)) {
    return { kind: 'labelNames', prefix: word, from };
  }
  if (language === 'promql') {
    // After "by (" or "without (": label names.
    if (/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*$/.exec(before)) {
      return { kind: 'labelNames', prefix: word, from };
    }
    return { kind: 'metricNames', prefix: word, from };
  }
  if (language === 'logql' && /\|\s*[A-Za-z0-9_]*$/.exec(before)) {
    // After a pipe: a label filter on a detected field.
    return { kind: 'fields', prefix: word, from };
  }
  return { kind: 'none', prefix: word, from };
}

/** Filters and ranks candidates: prefix matches first, then substring matches. */
export function rankSuggestions(items: string[], prefix: string, max = 50): string[] {
  const p = prefix.toLowerCase();
  if (p === '') {
    return items.slice(0, max);
  }
  const starts: string[] = [];
  const contains: string[] = [];
  for (const it of items) {
    const l = it.toLowerCase();
    if (l.startsWith(p)) {
      if (l !== p) {
        starts.push(it);
      }
    } else if (l.includes(p)) {
      contains.push(it);
    }
  }
  return starts.concat(contains).slice(0, max);
}

/** Inserts a chosen suggestion; returns the new text and cursor. */
export function applySuggestion(
  text: string,
  cursor: number,
  ctx: CompletionContext,
  item: string
): { text: string; cursor: number } {
  let insert = item;
  if (ctx.kind === 'labelValues') {
    const escaped = item.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
    insert = ctx.quote ? `"${escaped}"` : escaped;
    // Complete the closing quote when the user had opened one and none follows.
    if (!ctx.quote && text[cursor] !== '"' && !/:$/.test(text.slice(0, ctx.from))) {
      insert += '"';
    }
  }
  const newText = text.slice(0, ctx.from) + insert + text.slice(cursor);
  return { text: newText, cursor: ctx.from + insert.length };
}
