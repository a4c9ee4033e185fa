// completionContext finds what the word under the caret of a PromQL query
// is: a metric or function name, a label name inside {...} or by (...), or
// a label value inside quotes after label=. Heuristic by design: it reads
// the text before the caret only, as vmui's autocomplete does.

export interface Completion {
  kind: 'metric' | 'label' | 'value';
  word: string;
  from: number; // the word's span in the text, replaced on accept
  to: number;
  metric?: string;
  label?: string;
}

export function completionContext(text: string, pos: number): Completion | null {
  const before = text.slice(0, pos);
  const wordEnd = pos + (/^[\w:.]*/.exec(text.slice(pos))?.[0].length ?? 0);
  // Inside quotes after label op: a value.
  const val = /([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)$/.exec(before);
  const openBrace = before.lastIndexOf('{');
  const closeBrace = before.lastIndexOf('}');
  const inBraces = openBrace > closeBrace;
  const metric = inBraces ? /([a-zA-Z_:][\w:]*)\s*$/.exec(before.slice(0, openBrace))?.[1] : undefined;
  if (val && inBraces) {
    const end = text.indexOf('"', pos);
    return { kind: 'value', word: val[3], from: pos - val[3].length, to: end < 0 ? pos : end, metric, label: val[1] };
  }
  const word = /[a-zA-Z_:][\w:]*$/.exec(before)?.[0] ?? '';
  const from = pos - word.length;
  if (inBraces) {
    const tail = before.slice(openBrace + 1);
    // Right after "{" or "," we are at a label name.
    if (/(^|,)\s*[\w]*$/.test(tail)) return { kind: 'label', word, from, to: wordEnd, metric };
    return null;
  }
  const openParen = before.lastIndexOf('(');
  if (/\b(by|without)\s*\([\w\s,]*$/.test(before) && openParen > before.lastIndexOf(')')) {
    return { kind: 'label', word, from, to: wordEnd };
  }
  if (!word || /\[[^\]]*$/.test(before)) return null; // nothing typed, or a range
  if (/\d/.test(word[0])) return null;
  return { kind: 'metric', word, from, to: wordEnd };
}
