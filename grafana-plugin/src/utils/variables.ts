import { Resources } from '../types';

/** What a template-variable query asks the backend for. */
export interface VariableQueryPlan {
  resource: string;
  params: Record<string, string>;
  /** Optional regex to filter the answer with (metrics(regex)). */
  filter?: RegExp;
}

const FUNC = /^\s*([a-z_]+)\s*\(\s*(.*?)\s*\)\s*$/s;

/** Splits the arguments of label_values(metric{...}, label) at the last top-level comma. */
function splitLastArg(args: string): [string, string] | undefined {
  let depth = 0;
  let quote: string | null = null;
  let last = -1;
  for (let i = 0; i < args.length; i++) {
    const c = args[i];
    if (quote) {
      if (c === '\\') {
        i++;
      } else if (c === quote) {
        quote = null;
      }
    } else if (c === '"' || c === "'" || c === '`') {
      quote = c;
    } else if (c === '{' || c === '(' || c === '[') {
      depth++;
    } else if (c === '}' || c === ')' || c === ']') {
      depth--;
    } else if (c === ',' && depth === 0) {
      last = i;
    }
  }
  if (last < 0) {
    return undefined;
  }
  return [args.slice(0, last).trim(), args.slice(last + 1).trim()];
}

function unquote(s: string): string {
  const t = s.trim();
  if (t.length >= 2 && (t[0] === '"' || t[0] === "'") && t[t.length - 1] === t[0]) {
    return t.slice(1, -1);
  }
  return t;
}

/**
 * Parses a template-variable query. Supported, in Prometheus' style:
 *   metrics(regex?)                    metric names
 *   label_names(match?)                metric label names
 *   label_values(label)                values of a metric label
 *   label_values(match, label)         ... of the series matching match
 *   log_labels()                       log stream/label names
 *   log_label_values(label)            values of a log label
 *   log_fields()                       detected log field names
 *   services()                         services seen in traces
 *   trace_tags()                       trace tag names
 *   trace_tag_values(tag)              e.g. trace_tag_values(resource.service.name)
 * Anything else is undefined.
 */
export function parseVariableQuery(query: string): VariableQueryPlan | undefined {
  const m = FUNC.exec(query);
  if (!m) {
    return undefined;
  }
  const [, fn, rawArgs] = m;
  const args = rawArgs.trim();
  switch (fn) {
    case 'metrics': {
      const plan: VariableQueryPlan = { resource: Resources.metricNames, params: {} };
      if (args) {
        try {
          plan.filter = new RegExp(unquote(args));
        } catch {
          return undefined;
        }
      }
      return plan;
    }
    case 'label_names':
      return { resource: Resources.metricLabels, params: args ? { match: args } : {} };
    case 'label_values': {
      if (!args) {
        return undefined;
      }
      const split = splitLastArg(args);
      if (!split) {
        return { resource: Resources.metricLabelValues, params: { label: unquote(args) } };
      }
      return { resource: Resources.metricLabelValues, params: { label: unquote(split[1]), match: split[0] } };
    }
    case 'log_labels':
      return { resource: Resources.logLabels, params: {} };
    case 'log_label_values':
      return args ? { resource: Resources.logLabelValues, params: { label: unquote(args) } } : undefined;
    case 'log_fields':
      return { resource: Resources.logFields, params: {} };
    case 'services':
      return { resource: Resources.services, params: {} };
    case 'trace_tags':
      return { resource: Resources.traceTags, params: {} };
    case 'trace_tag_values':
      return args ? { resource: Resources.traceTagValues, params: { tag: unquote(args) } } : undefined;
    default:
      return undefined;
  }
}
