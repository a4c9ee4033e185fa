import { useEffect, useState } from 'preact/hooks';
import { setTenant } from './api';
import { decodeState, encodeState, UrlState } from './state';
import { TimeRangePicker } from './TimeRangePicker';
import { MetricsPage } from './MetricsPage';
import { LogsPage } from './LogsPage';
import { TracesPage, TracePage } from './TracesPage';
import { CorrelatePage } from './CorrelatePage';
import { AlertsPage } from './AlertsPage';
import { StatusPage } from './StatusPage';

// Parameters that belong to the shell, not to a page: they follow the user
// from page to page.
const globalParams = ['tenant', 'from', 'to'];

export interface PageProps {
  state: UrlState;
  // set replaces the page's parameters (the shell's are kept).
  set: (params: Record<string, string>) => void;
  // link is the href of another page, with the shell's parameters.
  link: (page: string, params?: Record<string, string>) => string;
}

const nav: [string, string][] = [
  ['metrics', 'Metrics'],
  ['logs', 'Logs'],
  ['traces', 'Traces'],
  ['correlate', 'Correlate'],
  ['alerts', 'Alerts'],
  ['status', 'Status'],
];

// maxKnownTenants bounds the tenants the selector remembers.
const maxKnownTenants = 20;

function knownTenants(): string[] {
  try {
    const v = JSON.parse(localStorage.getItem('sightline.tenants') ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

// rememberTenant puts t first among the tenants used in this browser,
// keeping the most recent maxKnownTenants.
export function rememberTenant(known: string[], t: string): string[] {
  return [t, ...known.filter((k) => k !== t)].slice(0, maxKnownTenants);
}

function current(): UrlState {
  const s = decodeState(location.hash);
  if (!s.params.tenant) {
    const t = localStorage.getItem('sightline.tenant');
    if (t) s.params.tenant = t;
  }
  return s;
}

export function App() {
  const [state, setState] = useState<UrlState>(current);
  useEffect(() => {
    const on = () => setState(current());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  setTenant(state.params.tenant ?? '');

  const shell = (p: Record<string, string>) => {
    const out: Record<string, string> = {};
    for (const k of globalParams) if (p[k]) out[k] = p[k];
    return out;
  };
  const link = (page: string, params: Record<string, string> = {}) =>
    encodeState({ page, params: { ...shell(state.params), ...params } });
  const set = (params: Record<string, string>) => {
    location.hash = encodeState({ page: state.page, params: { ...shell(state.params), ...params } });
  };
  const setGlobal = (k: string, v: string) => {
    if (k === 'tenant') {
      localStorage.setItem('sightline.tenant', v);
      if (v) localStorage.setItem('sightline.tenants', JSON.stringify(rememberTenant(knownTenants(), v)));
    }
    location.hash = encodeState({ page: state.page, params: { ...state.params, [k]: v } });
  };
  const props: PageProps = { state, set, link };
  const page = state.page;
  return (
    <div class="app">
      <header>
        <a class="brand" href={link('metrics')}>Sightline</a>
        <nav>
          {nav.map(([p, label]) => (
            <a href={link(p)} class={page === p || (page === 'trace' && p === 'traces') ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <label title="X-Scope-OrgID sent with every API call">
          Tenant{' '}
          <input
            class="tenant"
            placeholder="default"
            value={state.params.tenant ?? ''}
            list="known-tenants"
            onChange={(e) => setGlobal('tenant', (e.target as HTMLInputElement).value.trim())}
          />
          {/* The tenants used in this browser: the server lists none, as no tenant may see another. */}
          <datalist id="known-tenants">{knownTenants().map((t) => <option value={t} />)}</datalist>
        </label>
        <TimeRangePicker from={state.params.from ?? 'now-1h'} to={state.params.to ?? 'now'} onChange={(from, to) => {
          location.hash = encodeState({ page, params: { ...state.params, from, to } });
        }} />
      </header>
      <main>
        {page === 'metrics' && <MetricsPage {...props} />}
        {page === 'logs' && <LogsPage {...props} />}
        {page === 'traces' && <TracesPage {...props} />}
        {page === 'trace' && <TracePage {...props} />}
        {page === 'correlate' && <CorrelatePage {...props} />}
        {page === 'alerts' && <AlertsPage {...props} />}
        {page === 'status' && <StatusPage {...props} />}
        {!nav.some(([p]) => p === page) && page !== 'trace' && <p class="error">No page "{page}".</p>}
      </main>
    </div>
  );
}
