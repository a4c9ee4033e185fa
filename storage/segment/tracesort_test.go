package segment

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"
)

func randomTraceRows(n int, idBytes int) []TraceRow {
	rows := make([]TraceRow, n)
	var id [16]byte
	for i := range rows {
		if i%4 == 0 { // a few rows per trace
			id = [16]byte{}
			binary.BigEndian.PutUint64(id[8:], rand.Uint64())
			if idBytes == 16 {
				binary.BigEndian.PutUint64(id[:8], rand.Uint64())
			}
		}
		rows[i] = TraceRow{ID: id, Row: uint32(i)}
	}
	rand.Shuffle(n, func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })
	return rows
}

// TestSortTraceRows checks the bucket sort against the plain definition of
// the order, for random 128-bit IDs, 64-bit IDs padded with zeros (one
// bucket) and sizes around the cut-over.
func TestSortTraceRows(t *testing.T) {
	for _, n := range []int{0, 1, 100, 1<<12 - 1, 1 << 12, 300_000} {
		for _, idBytes := range []int{16, 8} {
			rows := randomTraceRows(n, idBytes)
			want := slices.Clone(rows)
			slices.SortFunc(want, func(a, b TraceRow) int {
				return cmp.Or(bytes.Compare(a.ID[:], b.ID[:]), cmp.Compare(a.Row, b.Row))
			})
			sortTraceRows(rows)
			if !slices.Equal(rows, want) {
				t.Fatalf("n=%d, %d-byte IDs: rows not in (ID, row) order", n, idBytes)
			}
		}
	}
}

func BenchmarkSortTraceRows(b *testing.B) {
	src := randomTraceRows(2_000_000, 16)
	rows := make([]TraceRow, len(src))
	for b.Loop() {
		copy(rows, src)
		sortTraceRows(rows)
	}
}
