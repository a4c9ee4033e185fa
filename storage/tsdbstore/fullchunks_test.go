package tsdbstore

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// A sender that catches up sends hours of data within a minute, before
// TSDB's own loop maps a chunk: the head's full chunks must go to its
// chunk files as the data moves on, and still be read back.
func TestFullChunksLeaveTheHeapAsDataMovesOn(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), reg, DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	ctx := tenant.With(context.Background(), "a")

	const series, minutes = 50, 180
	start := time.Now().Add(-minutes * time.Minute).Truncate(time.Minute)
	for m := range minutes {
		app := s.Appender(ctx)
		for i := range series {
			_, err := app.Append(0, labels.FromStrings("__name__", "up", "i", strconv.Itoa(i)), start.Add(time.Duration(m)*time.Minute).UnixMilli(), float64(m))
			require.NoError(t, err)
		}
		require.NoError(t, app.Commit())
	}

	// 180 one-minute samples make at least one full chunk per series (120
	// samples, or a 2-hour boundary), and the head's newest sample moved
	// far past the first write.
	mfs, err := reg.Gather()
	require.NoError(t, err)
	mapped := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "prometheus_tsdb_mmap_chunks_total" {
			mapped = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	require.GreaterOrEqual(t, mapped, float64(series))

	q, err := s.Querier(start.UnixMilli(), time.Now().UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", "up"))
	n := 0
	for ss.Next() {
		it := ss.At().Iterator(nil)
		for want := 0; it.Next() == chunkenc.ValFloat; want++ {
			_, v := it.At()
			require.Equal(t, float64(want), v)
			n++
		}
		require.NoError(t, it.Err())
	}
	require.NoError(t, ss.Err())
	require.Equal(t, series*minutes, n)
}
