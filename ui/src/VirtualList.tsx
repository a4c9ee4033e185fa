import { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { offsets, top, total, visible } from './virtual';

// VirtualList draws only the rows in view (and a few either side) of a
// list of any length, in a scroller of at most maxHeight: 100,000 log
// lines or 10,000 spans cost the DOM of a screenful. Rows are rowHeight
// tall, except those tall(i) says are opened (details, a span's log
// lines): they take their content's height, estimated until drawn, then
// measured, so the rows after them move down by what they really take.
export function VirtualList(p: {
  count: number;
  rowHeight: number;
  render: (i: number) => ComponentChildren;
  tall?: (i: number) => boolean;
  estimate?: (i: number) => number; // a tall row's extra height until measured
  tallKey?: unknown; // changes whenever tall() would answer differently
  resetKey?: unknown; // changes with the rows: measured heights are forgotten
  maxHeight: string; // CSS
  class?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const [y, setY] = useState(0);
  const [viewH, setViewH] = useState(800);
  const [version, setVersion] = useState(0);
  const measured = useMemo(() => new Map<number, number>(), [p.resetKey]);
  const tall = p.tall ?? (() => false);
  const o = useMemo(
    () => offsets(p.count, p.rowHeight, (i) => (tall(i) ? measured.get(i) ?? p.estimate?.(i) ?? 0 : 0)),
    [p.count, p.rowHeight, p.tallKey, p.resetKey, version],
  );
  useEffect(() => {
    const el = box.current!;
    const ro = new ResizeObserver(() => setViewH(el.clientHeight));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  // New rows start at the top.
  useEffect(() => {
    if (box.current) box.current.scrollTop = 0;
    setY(0);
  }, [p.resetKey]);
  // Measure the tall rows drawn; a change moves the rows below them.
  useLayoutEffect(() => {
    let changed = false;
    for (const el of box.current!.querySelectorAll<HTMLElement>(':scope > .vbody > .vrow.tall')) {
      const i = Number(el.dataset.i);
      const extra = el.offsetHeight - p.rowHeight;
      if (Math.abs((measured.get(i) ?? -1) - extra) > 0.5) {
        measured.set(i, extra);
        changed = true;
      }
    }
    if (changed) setVersion((v) => v + 1);
  });
  const [first, last] = visible(o, y, viewH);
  const rows = [];
  for (let i = first; i <= last; i++) {
    const t = tall(i);
    rows.push(
      <div key={i} class={'vrow' + (t ? ' tall' : '')} data-i={i} style={{ top: top(o, i) + 'px', height: t ? undefined : p.rowHeight + 'px' }}>
        {p.render(i)}
      </div>,
    );
  }
  return (
    <div ref={box} class={'vlist ' + (p.class ?? '')} data-rows={p.count} style={{ maxHeight: p.maxHeight }} onScroll={(e) => setY((e.target as HTMLElement).scrollTop)}>
      <div class="vbody" style={{ height: total(o) + 'px' }}>{rows}</div>
    </div>
  );
}
