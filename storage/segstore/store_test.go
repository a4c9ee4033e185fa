package segstore

import (
	"log/slog"
	"math"
	"os"
	"path/filepath"
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

func (sig rowSignal) WriteSegment(set *segment.Set, h *rows, walSeq int) (*segment.Reader, error) {
	w, err := set.NewWriter(h.ts[0])
	if err != nil {
		return nil, err
	}
	var e segment.Enc
	for _, t := range h.ts {
		e.Varint(t)
	}
	if err := w.AddBlock(h.ts[0], h.ts[len(h.ts)-1], len(h.ts), segment.Columns{"v": e.B}); err != nil {
		w.Abort()
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), "walseq"), []byte(strconv.Itoa(walSeq)), 0o644); err != nil {
		w.Abort()
		return nil, err
	}
	return w.Finish()
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
