/** Quotes a string as a LogQL / PromQL / TraceQL double-quoted string literal. */
export function quoteString(s: string): string {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

/** Escapes the characters that are special in RE2 regular expressions. */
export function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

/** Splits free text into words, keeping "quoted phrases" together. */
export function splitWords(text: string): string[] {
  const out: string[] = [];
  const re = /"([^"]*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const w = m[1] !== undefined ? m[1] : m[2];
    if (w && w.trim() !== '') {
      out.push(w);
    }
  }
  return out;
}
