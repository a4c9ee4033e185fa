import { quoteString } from '../builders/common';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function isLabelName(s: string): boolean {
  return LABEL_NAME.test(s);
}

/**
 * Finds the first stream selector {...} of a LogQL expression, skipping
 * braces inside string literals. Returns the index of { and of its }.
 */
export function findSelector(expr: string): { start: number; end: number } | undefined {
  let start = -1;
  let quote: string | null = null;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i];
    if (quote) {
      if (c === '\\' && quote !== '`') {
        i++;
      } else if (c === quote) {
        quote = null;
      }
      continue;
    }
    if (c === '"' || c === '`') {
      quote = c;
    } else if (c === '{' && start < 0) {
      start = i;
    } else if (c === '}' && start >= 0) {
      return { start, end: i };
    }
  }
  return undefined;
}

/**
 * Adds label<op>"value" to a LogQL query: into the first stream selector
 * (where: 'selector'), or as a label-filter stage after it (where: 'pipeline',
 * for structured metadata and parsed labels). A query without a selector
 * gets one. Adding a matcher that is already there changes nothing.
 */
export function addLabelToLogQL(
  expr: string,
  key: string,
  value: string,
  op: '=' | '!=' = '=',
  where: 'selector' | 'pipeline' = 'selector'
): string {
  if (!isLabelName(key)) {
    return expr;
  }
  const matcher = `${key}${op}${quoteString(value)}`;
  const sel = findSelector(expr);
  if (!sel) {
    const rest = expr.trim();
    return `{${matcher}}${rest ? ' ' + rest : ''}`;
  }
  const inner = expr.slice(sel.start + 1, sel.end);
  if (where === 'pipeline') {
    const stage = ` | ${matcher}`;
    if (expr.includes(stage)) {
      return expr;
    }
    // After the selector and any line filters/parsers already there: at the end of a log query.
    return expr.trimEnd() + stage;
  }
  const existing = inner.split(',').map((m) => m.replace(/\s+/g, ''));
  if (existing.includes(matcher.replace(/\s+/g, ''))) {
    return expr;
  }
  const newInner = inner.trim() === '' ? matcher : `${inner.trimEnd()}, ${matcher}`;
  return expr.slice(0, sel.start + 1) + newInner + expr.slice(sel.end);
}

/** Adds key:"value" (or NOT key:"value") to a full-text search. */
export function addFieldToSearch(expr: string, key: string, value: string, negate = false): string {
  const term = `${key}:${quoteString(value)}`;
  const clause = negate ? `NOT ${term}` : term;
  const q = expr.trim();
  if (q === '') {
    return negate ? `* AND ${clause}` : clause;
  }
  if (q.includes(clause)) {
    return q;
  }
  return `${q} AND ${clause}`;
}

/** Adds a line filter (|= "text" or != "text") to a LogQL log query. */
export function addLineFilter(expr: string, text: string, negate = false): string {
  const q = expr.trim() === '' ? '{service_name=~".+"}' : expr.trimEnd();
  return `${q} ${negate ? '!=' : '|='} ${quoteString(text)}`;
}

function escapeForRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** A regex for key<op>"value" as quoteString writes it (spaces around op allowed). */
function matcherPattern(key: string, op: '=' | '!=', value: string): string {
  return `${escapeForRegex(key)}\\s*${escapeForRegex(op)}\\s*${escapeForRegex(quoteString(value))}`;
}

/** Does the LogQL query filter on key<op>"value" (in its selector or as a label filter)? */
export function hasLabelMatcher(expr: string, key: string, value: string, op: '=' | '!=' = '='): boolean {
  return new RegExp(`(^|[{,|\\s])${matcherPattern(key, op, value)}(?=\\s*([,}|]|$))`).test(expr);
}

/** Removes key<op>"value" from a LogQL query; an emptied selector matches every stream. */
export function removeLabelMatcher(expr: string, key: string, value: string, op: '=' | '!=' = '='): string {
  const m = matcherPattern(key, op, value);
  let out = expr
    // a pipeline stage: | key="value"
    .replace(new RegExp(`\\s*\\|\\s*${m}(?=\\s*(\\||$))`), '')
    // in a selector, followed by another matcher: key="value",
    .replace(new RegExp(`([{,]\\s*)${m}\\s*,\\s*`), '$1')
    // in a selector, after another matcher: , key="value"
    .replace(new RegExp(`\\s*,\\s*${m}(?=\\s*})`), '')
    // alone in the selector
    .replace(new RegExp(`{\\s*${m}\\s*}`), '{}');
  if (/^\s*{}/.test(out)) {
    out = out.replace(/{}/, '{service_name=~".+"}');
  }
  return out;
}

/** Does the search have key:"value" (negated or not)? */
export function hasSearchTerm(expr: string, key: string, value: string, negate = false): boolean {
  const term = escapeForRegex(`${key}:${quoteString(value)}`);
  const re = negate ? new RegExp(`(^|\\s)NOT ${term}`) : new RegExp(`(^|\\s)(?<!NOT )${term}`);
  return re.test(expr);
}

/** Removes key:"value" (or NOT key:"value") and the AND that joined it. */
export function removeSearchTerm(expr: string, key: string, value: string, negate = false): string {
  const term = (negate ? 'NOT ' : '') + escapeForRegex(`${key}:${quoteString(value)}`);
  return expr
    .replace(new RegExp(`\\s+AND\\s+${term}(?=\\s|$)`), '')
    .replace(new RegExp(`^\\s*${term}\\s+AND\\s+`), '')
    .replace(new RegExp(`^\\s*${term}\\s*$`), '')
    .trim();
}
