import { useEffect, useRef, useState } from 'preact/hooks';
import { api } from './api';
import type { PageProps } from './App';
import { fmtValue } from './format';
import { useLoad } from './hooks';

interface Rows {
  rows: number;
  headRows: number;
  parts: number;
  bytes: number;
  walBytes: number;
  appendedTotal: number;
}

interface Sightline {
  tenant: string;
  time: string;
  started: string;
  metrics: { headSeries: number; blocks: number; blockBytes: number; samplesAppendedTotal: number };
  logs: Rows;
  traces: Rows;
}

// rate is the change of a counter between two readings, per second; null
// until there are two (or when the server restarted between them).
export function rate(prev: Sightline | undefined, cur: Sightline, f: (s: Sightline) => number): number | null {
  if (!prev || prev.started !== cur.started || prev.tenant !== cur.tenant) return null;
  const dt = (Date.parse(cur.time) - Date.parse(prev.time)) / 1000;
  return dt > 0 ? Math.max(0, f(cur) - f(prev)) / dt : null;
}

export function fmtBytes(n: number): string {
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}

const num = (n: number) => n.toLocaleString('en');
const perSec = (r: number | null) => (r === null ? '…' : `${r < 10 ? r.toFixed(1) : Math.round(r).toLocaleString('en')}/s`);

// TenantFigures reads the tenant's figures every 5 s
// (/api/v1/status/sightline): what it holds in each store, and its ingest
// rates from the change of the appended counters between two readings.
function TenantFigures({ tenant }: { tenant: string }) {
  const [cur, setCur] = useState<Sightline>();
  const prev = useRef<Sightline>(); // the reading before cur
  const last = useRef<Sightline>();
  const [error, setError] = useState('');
  useEffect(() => {
    let stop = false;
    let timer = 0;
    prev.current = last.current = undefined;
    setCur(undefined);
    const poll = () =>
      api('/api/v1/status/sightline')
        .then((r) => {
          if (stop) return;
          setError('');
          prev.current = last.current;
          last.current = r.data;
          setCur(r.data);
        })
        .catch((e) => !stop && setError(String(e.message ?? e)))
        .finally(() => {
          if (!stop) timer = window.setTimeout(poll, 5000);
        });
    poll();
    return () => {
      stop = true;
      clearTimeout(timer);
    };
  }, [tenant]);
  if (error) return <p class="error">{error}</p>;
  if (!cur) return <p class="muted">loading…</p>;
  const p = prev.current;
  return (
    <table class="grid tenantstats">
      <thead>
        <tr><th>Store</th><th class="num">Ingest</th><th class="num">Held</th><th class="num">Waiting for a flush</th><th class="num">Parts on disk</th><th class="num">Bytes on disk</th><th class="num">WAL</th></tr>
      </thead>
      <tbody>
        <tr class="metrics">
          <td>Metrics</td>
          <td class="num">{perSec(rate(p, cur, (s) => s.metrics.samplesAppendedTotal))} samples</td>
          <td class="num">{num(cur.metrics.headSeries)} series in the head</td>
          <td class="num" />
          <td class="num">{num(cur.metrics.blocks)} blocks</td>
          <td class="num">{fmtBytes(cur.metrics.blockBytes)}</td>
          <td class="num" />
        </tr>
        {(['logs', 'traces'] as const).map((k) => (
          <tr class={k}>
            <td>{k === 'logs' ? 'Logs' : 'Traces'}</td>
            <td class="num">{perSec(rate(p, cur, (s) => s[k].appendedTotal))} {k === 'logs' ? 'records' : 'spans'}</td>
            <td class="num">{num(cur[k].rows)} {k === 'logs' ? 'records' : 'spans'}</td>
            <td class="num">{num(cur[k].headRows)}</td>
            <td class="num">{num(cur[k].parts)}</td>
            <td class="num">{fmtBytes(cur[k].bytes)}</td>
            <td class="num">{fmtBytes(cur[k].walBytes)}</td>
          </tr>
        ))}
      </tbody>
      <caption class="muted">
        Tenant {cur.tenant} · since {new Date(cur.started).toLocaleString()}: {num(cur.metrics.samplesAppendedTotal)} samples, {num(cur.logs.appendedTotal)} records, {num(cur.traces.appendedTotal)} spans · rates over the last 5 s
      </caption>
    </table>
  );
}

// StatusPage shows the tenant's ingest and stores, then what the
// Prometheus status endpoints tell: build, runtime, the TSDB head of the
// tenant, and the effective flags.
export function StatusPage({ state }: PageProps) {
  const deps = [state.params.tenant];
  const get = (p: string) => () => api(p).then((r) => r.data);
  const build = useLoad(get('/api/v1/status/buildinfo'), deps);
  const runtime = useLoad(get('/api/v1/status/runtimeinfo'), deps);
  const tsdb = useLoad(get('/api/v1/status/tsdb'), deps);
  const flags = useLoad(get('/api/v1/status/flags'), deps);
  return (
    <section>
      <h2>Tenant {state.params.tenant || 'default'}</h2>
      <TenantFigures tenant={state.params.tenant ?? ''} />
      <KV title="Build" d={build} />
      <KV title="Runtime" d={runtime} />
      <h2>Metrics TSDB head (tenant {state.params.tenant || 'default'})</h2>
      {tsdb.error && <p class="error">{tsdb.error}</p>}
      {tsdb.data && (
        <>
          <KV title="" d={{ data: tsdb.data.headStats }} />
          {(['seriesCountByMetricName', 'labelValueCountByLabelName'] as const).map((k) =>
            tsdb.data[k] ? (
              <table class="grid">
                <caption>{k}</caption>
                <tbody>{tsdb.data[k].map((e: any) => <tr><td class="mono">{e.name}</td><td class="num">{e.value}</td></tr>)}</tbody>
              </table>
            ) : null,
          )}
        </>
      )}
      <KV title="Flags (effective configuration)" d={flags} />
    </section>
  );
}

function KV({ title, d }: { title: string; d: { data?: Record<string, unknown>; error?: string } }) {
  return (
    <>
      {title && <h2>{title}</h2>}
      {d.error && <p class="error">{d.error}</p>}
      {d.data && (
        <table class="fields">
          <tbody>
            {Object.keys(d.data).sort().map((k) => (
              <tr><th>{k}</th><td class="mono">{fmtValue(d.data![k])}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}
