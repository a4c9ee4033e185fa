/**
 * A stable, synchronous 64-bit FNV-1a hash rendered as 16 hex digits. Used to
 * name live-tail channels: the same expression and tenant always map to the
 * same channel, so Grafana Live shares one stream between panels.
 */
export function stableHash(s: string): string {
  // Two 32-bit FNV-1a lanes with different offsets (BigInt-free for old targets).
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ 0x5bd1e995;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x01000193 ^ 0x2f) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** The channel path of a live tail: tail/<hash of expr, logsMode and tenant>. */
export function liveTailPath(expr: string, logsMode: string, tenant: string): string {
  return 'tail/' + stableHash(JSON.stringify({ expr, logsMode, tenant }));
}
