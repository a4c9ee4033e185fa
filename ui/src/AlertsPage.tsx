import { useState } from 'preact/hooks';
import { api } from './api';
import type { PageProps } from './App';
import { fmtLabels, fmtTime } from './format';
import { useLoad } from './hooks';
import { parseDuration } from './state';

// parseMatchers reads `alertname="X", severity=~"crit.*"` into
// Alertmanager v2 matchers.
export function parseMatchers(s: string): { name: string; value: string; isRegex: boolean; isEqual: boolean }[] {
  const out = [];
  const re = /\s*([a-zA-Z_][\w]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?/y;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    out.push({ name: m[1], value: m[3].replace(/\\(.)/g, '$1'), isRegex: m[2].includes('~'), isEqual: !m[2].startsWith('!') });
    end = re.lastIndex;
  }
  if (s.slice(end).trim()) throw new Error(`cannot read matchers at "${s.slice(end).trim()}"`);
  return out;
}

export function AlertsPage({ state }: PageProps) {
  const [tick, setTick] = useState(0);
  const deps = [state.params.tenant, tick];
  const rules = useLoad(() => api('/api/v1/rules').then((r) => r.data.groups ?? []), deps);
  const alerts = useLoad(() => api('/api/v1/alerts').then((r) => r.data.alerts ?? []), deps);
  const silences = useLoad(() => api('/api/v2/silences'), deps);
  const [form, setForm] = useState({ matchers: '', duration: '2h', comment: '', createdBy: 'sightline-ui' });
  const [formErr, setFormErr] = useState('');

  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const ms = parseDuration(form.duration);
      if (!ms) throw new Error('duration: use e.g. 30m, 2h, 1d');
      const now = Date.now();
      await api('/api/v2/silences', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ matchers: parseMatchers(form.matchers), startsAt: new Date(now).toISOString(), endsAt: new Date(now + ms).toISOString(), createdBy: form.createdBy, comment: form.comment || '-' }),
      });
      setFormErr('');
      setForm({ ...form, matchers: '', comment: '' });
      setTick(tick + 1);
    } catch (err: any) {
      setFormErr(err.message);
    }
  };
  const expire = async (id: string) => {
    await api('/api/v2/silence/' + id, { method: 'DELETE' }).catch((err) => setFormErr(err.message));
    setTick(tick + 1);
  };

  return (
    <section>
      <h2>Firing and pending alerts <button onClick={() => setTick(tick + 1)}>Refresh</button></h2>
      {alerts.error && <p class="error">{alerts.error}</p>}
      <table class="grid">
        <thead><tr><th>State</th><th>Labels</th><th>Since</th><th class="num">Value</th></tr></thead>
        <tbody>
          {(alerts.data ?? []).map((a: any) => (
            <tr><td class={'state-' + a.state}>{a.state}</td><td class="mono">{fmtLabels(a.labels)}</td><td>{a.activeAt ? fmtTime(Date.parse(a.activeAt)) : ''}</td><td class="num">{a.value}</td></tr>
          ))}
          {alerts.data && !alerts.data.length && <tr><td colSpan={4} class="muted">None.</td></tr>}
        </tbody>
      </table>

      <h2>Rules</h2>
      {rules.error && <p class="error">{rules.error}</p>}
      {(rules.data ?? []).map((g: any) => (
        <details open>
          <summary>{g.name} <span class="muted">{g.file} · every {g.interval}s · last evaluation {g.lastEvaluation ? fmtTime(Date.parse(g.lastEvaluation)) : 'never'}</span></summary>
          <table class="grid">
            <thead><tr><th>Rule</th><th>State</th><th>Health</th><th>Last evaluation</th><th>Query</th></tr></thead>
            <tbody>
              {g.rules.map((r: any) => (
                <tr>
                  <td>{r.name}</td>
                  <td class={'state-' + (r.state ?? '')}>{r.state ?? r.type}</td>
                  <td class={r.health === 'ok' ? '' : 'error'}>{r.health}{r.lastError ? ': ' + r.lastError : ''}</td>
                  <td>{r.lastEvaluation ? fmtTime(Date.parse(r.lastEvaluation)) : ''}</td>
                  <td class="mono">{r.query}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ))}
      {rules.data && !rules.data.length && <p class="muted">No rule groups (see -rules.files).</p>}

      <h2>Silences</h2>
      <form class="editor" onSubmit={create}>
        <input class="query" placeholder='matchers: alertname="HighLatency", service="checkout"' value={form.matchers} onInput={(e) => setForm({ ...form, matchers: (e.target as HTMLInputElement).value })} />
        <input size={6} aria-label="duration" value={form.duration} onInput={(e) => setForm({ ...form, duration: (e.target as HTMLInputElement).value })} />
        <input size={12} placeholder="created by" value={form.createdBy} onInput={(e) => setForm({ ...form, createdBy: (e.target as HTMLInputElement).value })} />
        <input placeholder="comment" value={form.comment} onInput={(e) => setForm({ ...form, comment: (e.target as HTMLInputElement).value })} />
        <button type="submit">Silence</button>
      </form>
      {formErr && <p class="error">{formErr}</p>}
      {silences.error && <p class="error">{silences.error}</p>}
      <table class="grid silences">
        <thead><tr><th>State</th><th>Matchers</th><th>Ends</th><th>By</th><th>Comment</th><th /></tr></thead>
        <tbody>
          {(silences.data ?? []).map((s: any) => (
            <tr>
              <td>{s.status?.state}</td>
              <td class="mono">{s.matchers.map((m: any) => `${m.name}${m.isEqual === false ? '!' : ''}${m.isRegex ? '~' : '='}"${m.value}"`).join(', ')}</td>
              <td>{fmtTime(Date.parse(s.endsAt))}</td>
              <td>{s.createdBy}</td>
              <td>{s.comment}</td>
              <td>{s.status?.state !== 'expired' && <button onClick={() => expire(s.id)}>Expire</button>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
