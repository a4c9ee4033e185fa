// The service graph from the service-graph metrics Sightline derives from
// client/server span pairs (traces_service_graph_request_total and
// _failed_total, labels client and server): nodes are services, edges
// the calls between them, laid out in columns from callers to callees.

export interface Edge {
  client: string;
  server: string;
  rate: number; // requests per second
  errorRate: number; // failed requests per second
}

export interface Node {
  name: string;
  column: number;
  row: number;
  inRate: number; // requests per second it serves
  inErrors: number;
}

export interface Graph {
  nodes: Node[];
  edges: Edge[];
  columns: number;
  rows: number; // the most nodes in a column
}

type Vector = { metric: Record<string, string>; value: [number, string] }[];

// edgesOf joins the request and failure rates by client and server.
export function edgesOf(requests: Vector, failed: Vector): Edge[] {
  const m = new Map<string, Edge>();
  const get = (v: Vector[number]) => {
    const client = v.metric.client ?? '', server = v.metric.server ?? '';
    const k = client + '\u0000' + server;
    let e = m.get(k);
    if (!e) m.set(k, (e = { client, server, rate: 0, errorRate: 0 }));
    return e;
  };
  for (const v of requests) get(v).rate += Number(v.value[1]) || 0;
  for (const v of failed) get(v).errorRate += Number(v.value[1]) || 0;
  return [...m.values()].sort((a, b) => a.client.localeCompare(b.client) || a.server.localeCompare(b.server));
}

// layoutGraph puts each service in the column of its longest chain of
// callers (the callers of no one in column 0); a call cycle is cut where
// it comes back, so every service gets a column. At most maxNodes
// services are drawn: the ones with the most traffic.
export function layoutGraph(edges: Edge[], maxNodes = 60): Graph {
  const traffic = new Map<string, number>();
  for (const e of edges) {
    traffic.set(e.client, (traffic.get(e.client) ?? 0) + e.rate);
    traffic.set(e.server, (traffic.get(e.server) ?? 0) + e.rate);
  }
  const kept = new Set([...traffic.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, maxNodes).map(([n]) => n));
  edges = edges.filter((e) => kept.has(e.client) && kept.has(e.server));
  const names = [...kept].sort();
  const out = new Map<string, string[]>();
  const indeg = new Map<string, number>(names.map((n) => [n, 0]));
  for (const e of edges) {
    if (e.client === e.server) continue;
    out.set(e.client, [...(out.get(e.client) ?? []), e.server]);
    indeg.set(e.server, (indeg.get(e.server) ?? 0) + 1);
  }
  // Longest path from the roots by depth-first search, cutting back edges.
  const column = new Map<string, number>();
  const onPath = new Set<string>();
  const visit = (n: string, d: number) => {
    if ((column.get(n) ?? -1) >= d || onPath.has(n)) return;
    column.set(n, d);
    onPath.add(n);
    for (const s of out.get(n) ?? []) visit(s, d + 1);
    onPath.delete(n);
  };
  const roots = names.filter((n) => indeg.get(n) === 0);
  for (const r of roots.length ? roots : names.slice(0, 1)) visit(r, 0);
  for (const n of names) if (!column.has(n)) visit(n, 0); // in a cycle no root reaches
  const byColumn = new Map<number, string[]>();
  for (const n of names) byColumn.set(column.get(n)!, [...(byColumn.get(column.get(n)!) ?? []), n]);
  const nodes: Node[] = [];
  let rows = 0;
  for (const [c, ns] of byColumn) {
    rows = Math.max(rows, ns.length);
    ns.forEach((name, row) => {
      const incoming = edges.filter((e) => e.server === name);
      nodes.push({ name, column: c, row, inRate: incoming.reduce((a, e) => a + e.rate, 0), inErrors: incoming.reduce((a, e) => a + e.errorRate, 0) });
    });
  }
  return { nodes, edges, columns: Math.max(0, ...nodes.map((n) => n.column)) + 1, rows };
}

export function fmtRate(r: number): string {
  if (r === 0) return '0/s';
  if (r < 0.01) return `${(r * 60).toFixed(2)}/min`;
  return `${r < 10 ? r.toFixed(2) : r.toFixed(0)}/s`;
}
