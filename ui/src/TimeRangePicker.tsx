import { useEffect, useState } from 'preact/hooks';

const presets = ['5m', '15m', '1h', '3h', '6h', '12h', '24h', '2d', '7d'];

// TimeRangePicker edits the range as Grafana writes it: "now-1h" to "now",
// or absolute times (RFC3339 or Unix seconds).
export function TimeRangePicker(p: { from: string; to: string; onChange: (from: string, to: string) => void }) {
  const [from, setFrom] = useState(p.from);
  const [to, setTo] = useState(p.to);
  useEffect(() => {
    setFrom(p.from);
    setTo(p.to);
  }, [p.from, p.to]);
  const preset = p.to === 'now' && p.from.startsWith('now-') ? p.from.slice(4) : '';
  return (
    <form class="range" onSubmit={(e) => { e.preventDefault(); p.onChange(from, to); }}>
      <select value={preset} onChange={(e) => {
        const v = (e.target as HTMLSelectElement).value;
        if (v) p.onChange('now-' + v, 'now');
      }}>
        <option value="">custom</option>
        {presets.map((x) => <option value={x}>Last {x}</option>)}
      </select>
      <input aria-label="from" size={14} value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} />
      <span>→</span>
      <input aria-label="to" size={14} value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} />
      <button type="submit">Apply</button>
    </form>
  );
}
