package segstore

import (
	"context"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/storage/segment"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// rows is a minimal signal: a row is a timestamp; a WAL record is varints;
// a segment has one column of varints and its WAL sequence in a file.
type rows struct{ ts []int64 }

func (h *rows) Rows() int { return len(h.ts) }

type rowSignal struct{}

func (rowSignal) NewHead() *rows { return &rows{} }

func (rowSignal) Replay(h *rows, rec []byte) error {
	d := segment.Dec{B: rec}
	for len(d.B) > 0 && d.Err == nil {
		h.ts = append(h.ts, d.Varint())
	}
	return d.Err
}

func (rowSignal) OpenSegment(r *segment.Reader) (int, error) {
	b, err := os.ReadFile(filepath.Join(r.Dir(), "walseq"))
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func (h *rows) MinT() int64 { return slices.Min(h.ts) }

func (sig rowSignal) WriteHead(w *segment.Writer, h *rows, walSeq int) error {
	ts := slices.Sorted(slices.Values(h.ts))
	return writeRows(w, walSeq, func(emit func(int64) error) error {
		for _, t := range ts {
			if err := emit(t); err != nil {
				return err
			}
		}
		return nil
	})
}

// Merge reads every row of the sources and writes them sorted: a test
// signal need not bound its memory.
func (sig rowSignal) Merge(ctx context.Context, w *segment.Writer, srcs []*segment.Reader) error {
	walSeq := 0
	var ts []int64
	for _, r := range srcs {
		seq, err := sig.OpenSegment(r)
		if err != nil {
			return err
		}
		walSeq = max(walSeq, seq)
		for b := range r.Blocks {
			cols, err := r.ReadBlock(b, "v")
			if err != nil {
				return err
			}
			d := segment.Dec{B: cols["v"]}
			for len(d.B) > 0 && d.Err == nil {
				ts = append(ts, d.Varint())
			}
			if d.Err != nil {
				return d.Err
			}
		}
	}
	slices.Sort(ts)
	return sig.WriteHead(w, &rows{ts: ts}, walSeq)
}

// writeRows writes the rows that each calls, in order, in blocks.
func writeRows(w *segment.Writer, walSeq int, each func(emit func(int64) error) error) error {
	var blk []int64
	flush := func() error {
		if len(blk) == 0 {
			return nil
		}
		var e segment.Enc
		for _, t := range blk {
			e.Varint(t)
		}
		err := w.AddBlock(blk[0], blk[len(blk)-1], len(blk), segment.Columns{"v": e.B}, nil)
		blk = blk[:0]
		return err
	}
	err := each(func(t int64) error {
		blk = append(blk, t)
		if len(blk) == segment.BlockRows {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(w.Dir(), "walseq"), []byte(strconv.Itoa(walSeq)), 0o644)
}

func open(t *testing.T, dir string, opts Options) *Store[*rows] {
	t.Helper()
	s, err := Open(dir, "test", rowSignal{}, opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	return s
}

func appendRows(s *Store[*rows], tenant string, ts ...int64) error {
	var e segment.Enc
	for _, t := range ts {
		e.Varint(t)
	}
	return s.Append(tenant, e.B, len(ts), func(h *rows) { h.ts = append(h.ts, ts...) })
}

// count returns the rows a query would see: heads and segments.
func count(s *Store[*rows], tenant string) int {
	t := s.Tenant(tenant)
	if t == nil {
		return 0
	}
	n := 0
	segs := t.Snapshot(math.MinInt64, math.MaxInt64, func(h *rows) { n += h.Rows() })
	for _, r := range segs {
		n += r.Rows
		r.Release()
	}
	return n
}

func TestAppendFlushReopen(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HeadMaxRows: 1 << 20, HeadMaxAge: time.Hour}
	s := open(t, dir, opts)
	now := time.Now().UnixNano()
	require.NoError(t, appendRows(s, "a", now, now+1))
	require.NoError(t, s.Flush())
	require.NoError(t, appendRows(s, "a", now+2))
	require.NoError(t, appendRows(s, "b", now))
	require.Equal(t, 3, count(s, "a"))
	require.Nil(t, s.Tenant("c"), "reads create no tenant")
	require.Error(t, appendRows(s, "bad/tenant", now))
	require.NoError(t, s.Close())

	// The segment is opened, the WAL replays only what is not in it.
	s = open(t, dir, opts)
	defer s.Close()
	require.Equal(t, 3, count(s, "a"))
	require.Equal(t, 1, count(s, "b"))
	require.NoError(t, s.Flush())
	require.Equal(t, 3, count(s, "a"))
	n, rows, _ := s.Tenant("a").Segments().Stats()
	require.Equal(t, 2, n)
	require.Equal(t, 3, rows)
}

func TestBackpressureAndRetention(t *testing.T) {
	s := open(t, t.TempDir(), Options{HeadMaxRows: 1 << 20, HeadMaxAge: time.Hour, MaxPendingRows: 3, Retention: time.Hour})
	defer s.Close()
	old := time.Now().Add(-3 * time.Hour).UnixNano()
	require.NoError(t, appendRows(s, "a", old, old+1))
	require.ErrorIs(t, appendRows(s, "a", old, old), ErrBackpressure, "2 waiting + 2 is over 3")
	require.NoError(t, appendRows(s, "a", old+2))
	require.NoError(t, s.Flush())
	require.NoError(t, appendRows(s, "a", time.Now().UnixNano()), "flushed rows no longer wait")
	s.ApplyRetention()
	require.Equal(t, 1, count(s, "a"), "the old partition is dropped, the head stays")
}

// values returns every row a query would see, sorted.
func values(t *testing.T, s *Store[*rows], tenant string) []int64 {
	t.Helper()
	var out []int64
	segs := s.Tenant(tenant).Snapshot(math.MinInt64, math.MaxInt64, func(h *rows) { out = append(out, h.ts...) })
	for _, r := range segs {
		for b := range r.Blocks {
			cols, err := r.ReadBlock(b, "v")
			require.NoError(t, err)
			d := segment.Dec{B: cols["v"]}
			for len(d.B) > 0 {
				out = append(out, d.Varint())
			}
			require.NoError(t, d.Err)
		}
		r.Release()
	}
	slices.Sort(out)
	return out
}

func TestMergesKeepSegmentsBounded(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HeadMaxRows: 1 << 20, HeadMaxAge: time.Hour, MergeFanIn: 4, MergeMaxRows: 1000}
	s := open(t, dir, opts)
	// A cold partition (three hours ago) and the current one, 5 rows a
	// flush, 150 flushes each: without merges, 300 segments.
	cold := time.Now().Add(-3 * time.Hour).Truncate(time.Hour).UnixNano()
	hot := time.Now().UnixNano()
	var want []int64
	for i := range 150 {
		for _, base := range []int64{cold, hot} {
			ts := []int64{base + int64(5*i), base + int64(5*i+1), base + int64(5*i+2), base + int64(5*i+3), base + int64(5*i+4)}
			require.NoError(t, appendRows(s, "a", ts...))
			want = append(want, ts...)
			require.NoError(t, s.Flush())
		}
		require.NoError(t, s.Compact())
		n, _, _ := s.Tenant("a").Segments().Stats()
		// Hot partition: levels of 5, 20, 80, 320 rows, fewer than 4 of
		// each, and full segments (over 1000/2 rows, at most 2 here). Cold
		// partition: at most one per level of 5·2^k rows below 1000 (8).
		require.LessOrEqual(t, n, 3*4+2+8, "after %d flushes of each", i+1)
	}
	slices.Sort(want)
	require.Equal(t, want, values(t, s, "a"), "merges keep every row once")
	levels := s.Tenant("a").Segments().Levels()
	require.Greater(t, len(levels), 2, "merged segments are merged again: %v", levels)
	coldParts := 0
	for _, r := range s.Tenant("a").Snapshot(cold, cold, func(*rows) {}) {
		coldParts++
		r.Release()
	}
	require.LessOrEqual(t, coldParts, 8, "150 flushes in a cold partition: at most one segment per level (log2 150)")

	// Sources are gone from disk, and nothing is replayed twice.
	var onDisk int
	require.NoError(t, filepath.WalkDir(filepath.Join(dir, "tenants", "a", "test", "segments"), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "meta.json" {
			onDisk++
		}
		return err
	}))
	n, _, _ := s.Tenant("a").Segments().Stats()
	require.Equal(t, n, onDisk)
	require.NoError(t, s.Close())
	s = open(t, dir, opts)
	defer s.Close()
	require.Equal(t, want, values(t, s, "a"))
}

// A crash after a merged segment was moved into place, before its sources
// were deleted: the next open keeps the merged segment only.
func TestMergeCrashBeforeSourcesDeleted(t *testing.T) {
	dir := t.TempDir()
	opts := Options{HeadMaxRows: 1 << 20, HeadMaxAge: time.Hour}
	s := open(t, dir, opts)
	now := time.Now().UnixNano()
	for i := range 3 {
		require.NoError(t, appendRows(s, "a", now+int64(i)))
		require.NoError(t, s.Flush())
	}
	tn := s.Tenant("a")
	srcs := tn.set.Acquire(math.MinInt64, math.MaxInt64)
	require.Len(t, srcs, 3)
	lin := segment.Lineage{Level: 1}
	for _, r := range srcs {
		lin.Sources = append(lin.Sources, r.Name())
	}
	merged, err := s.writeSegment(tn, now, lin, func(w *segment.Writer) error { return rowSignal{}.Merge(context.Background(), w, srcs) })
	require.NoError(t, err)
	// "Crash": the merged segment is on disk, the sources too.
	merged.Release()
	for _, r := range srcs {
		r.Release()
	}
	require.NoError(t, s.Close())

	s = open(t, dir, opts)
	defer s.Close()
	require.Equal(t, []int64{now, now + 1, now + 2}, values(t, s, "a"))
	n, _, _ := s.Tenant("a").Segments().Stats()
	require.Equal(t, 1, n)
	require.Equal(t, map[int]int{1: 1}, s.Tenant("a").Segments().Levels())
}

// Pending rows are bounded by their bytes too: a few large records fill
// memory long before their count reaches the row bound.
func TestBackpressureByBytes(t *testing.T) {
	s := open(t, t.TempDir(), Options{HeadMaxRows: 1 << 20, HeadMaxAge: time.Hour, MaxPendingRows: 1 << 20, MaxPendingBytes: 100})
	defer s.Close()
	now := time.Now().UnixNano()
	big := make([]int64, 30) // 30 varints of 9 bytes: 270 bytes
	for i := range big {
		big[i] = now
	}
	require.NoError(t, appendRows(s, "a", big...), "the first request passes whatever its size")
	require.ErrorIs(t, appendRows(s, "a", now), ErrBackpressure, "270 bytes wait, over 100")
	require.NoError(t, s.Flush())
	require.NoError(t, appendRows(s, "a", now), "flushed rows no longer wait")
}
