import { api } from './api';
import type { PageProps } from './App';
import { fmtValue } from './format';
import { useLoad } from './hooks';

// StatusPage shows what the Prometheus status endpoints tell: build,
// runtime, the TSDB head of the tenant, and the effective flags.
export function StatusPage({ state }: PageProps) {
  const deps = [state.params.tenant];
  const get = (p: string) => () => api(p).then((r) => r.data);
  const build = useLoad(get('/api/v1/status/buildinfo'), deps);
  const runtime = useLoad(get('/api/v1/status/runtimeinfo'), deps);
  const tsdb = useLoad(get('/api/v1/status/tsdb'), deps);
  const flags = useLoad(get('/api/v1/status/flags'), deps);
  return (
    <section>
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
