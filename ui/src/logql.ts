// Edits of a LogQL query made by the logs page's filters, so that the
// query stays the one source of truth (and the one in the URL).

const selectorRe = /\{[^}]*\}/;
const serviceRe = /service_name\s*(?:=~|!~|!=|=)\s*"(?:[^"\\]|\\.)*"\s*,?\s*/;

// withService makes the query's stream selector pick one service (or any,
// for ""), adding a selector when the query has none.
export function withService(q: string, service: string): string {
  const m = selectorRe.exec(q);
  const matcher = service ? `service_name=${JSON.stringify(service)}` : '';
  if (!m) return service ? `{${matcher}}` + (q.trim() ? ' ' + q.trim() : '') : q;
  let inner = m[0].slice(1, -1);
  if (serviceRe.test(inner)) {
    inner = inner.replace(serviceRe, matcher ? matcher + (/,\s*$/.test(inner.match(serviceRe)![0]) ? ', ' : '') : '');
  } else if (matcher) {
    inner = inner.trim() ? `${matcher}, ${inner.trim()}` : matcher;
  }
  inner = inner.trim().replace(/,$/, '');
  return q.slice(0, m.index) + `{${inner}}` + q.slice(m.index + m[0].length);
}

const levelRe = /\s*\|\s*detected_level\s*=\s*"(?:[^"\\]|\\.)*"/;

// withLevel keeps only the lines of one level (or all, for "").
export function withLevel(q: string, level: string): string {
  const stripped = q.replace(levelRe, '');
  return level ? `${stripped.trim()} | detected_level=${JSON.stringify(level)}` : stripped;
}

export function levelOfQuery(q: string): string {
  return /\|\s*detected_level\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(q)?.[1] ?? '';
}

export function serviceOfQuery(q: string): string {
  const sel = selectorRe.exec(q)?.[0] ?? '';
  return /service_name\s*=\s*"((?:[^"\\]|\\.)*)"/.exec(sel)?.[1] ?? '';
}
