package segment

import (
	"cmp"
	"encoding/binary"
	"slices"
)

// sortTraceRows sorts rows by trace ID, then row. Trace IDs are random, so
// an in-place bucket pass on their first 16 bits (American flag sort)
// leaves buckets of a few dozen rows to compare-sort: 3× faster than
// sorting the whole slice, which was a sixth of the log server's CPU at
// full ingest (merged segments hold millions of rows), and without a
// second slice of that size. IDs that are not random (say, 64-bit IDs
// padded with zeros) fall into one bucket and are merely compare-sorted.
func sortTraceRows(rows []TraceRow) {
	const bits = 16
	if len(rows) < 1<<12 {
		compareSortTraceRows(rows)
		return
	}
	key := func(t *TraceRow) int { return int(binary.BigEndian.Uint16(t.ID[:2])) }
	// start[b] is where bucket b begins; next[b] is its first row not yet
	// known to belong there.
	start := make([]uint32, 1<<bits+1)
	for i := range rows {
		start[key(&rows[i])+1]++
	}
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
	next := slices.Clone(start[:1<<bits])
	for b := range next {
		for next[b] < start[b+1] {
			i := next[b]
			k := key(&rows[i])
			if k == b {
				next[b]++
				continue
			}
			rows[i], rows[next[k]] = rows[next[k]], rows[i]
			next[k]++
		}
	}
	for b := range next {
		if start[b+1]-start[b] > 1 {
			compareSortTraceRows(rows[start[b]:start[b+1]])
		}
	}
}

// compareSortTraceRows compares the IDs as two big-endian words (a
// bytes.Compare call per comparison costs more), the second only on a tie.
func compareSortTraceRows(rows []TraceRow) {
	slices.SortFunc(rows, func(a, b TraceRow) int {
		if x, y := binary.BigEndian.Uint64(a.ID[:8]), binary.BigEndian.Uint64(b.ID[:8]); x != y {
			return cmp.Compare(x, y)
		}
		if x, y := binary.BigEndian.Uint64(a.ID[8:]), binary.BigEndian.Uint64(b.ID[8:]); x != y {
			return cmp.Compare(x, y)
		}
		return cmp.Compare(a.Row, b.Row)
	})
}
