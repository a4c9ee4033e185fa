package tsdbstore

import (
	"context"
	"log/slog"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
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

// TSDB's own loop maps the head's chunks and compacts the head one after
// the other. A commit that maps them while the loop compacts deadlocked
// both, and every append after them, in the week-long benchmark (4 runs
// out of 6): the head's garbage collection locks a series, then the
// stripe of the series map it is in, and the mapping locks a stripe, then
// its series. Here the series change every hour, so that each compaction
// deletes series, and the head has two stripes, so that the two meet at
// every compaction.
func TestFullChunksAndHeadCompactionDoNotDeadlock(t *testing.T) {
	o := tsdb.DefaultOptions()
	o.StripeSize = 2
	var logged strings.Builder
	db, err := tsdb.Open(t.TempDir(), withoutCompactionToggles(slog.New(slog.NewTextHandler(&logged, nil))), nil, o, nil)
	require.NoError(t, err)
	f := newFullChunks(db)

	const series, hours = 500, 30
	start := time.Now().Add(-hours * time.Hour).Truncate(2 * time.Hour)
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for m := range hours * 60 {
				app := db.Appender(context.Background())
				for i := range series {
					ls := labels.FromStrings("__name__", "up", "hour", strconv.Itoa(m/60), "i", strconv.Itoa(i))
					if _, err := app.Append(0, ls, start.Add(time.Duration(m)*time.Minute).UnixMilli(), float64(m)); err != nil {
						return err
					}
				}
				if err := app.Commit(); err != nil {
					return err
				}
				f.commit()
			}
			return nil
		}()
	}()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(2 * time.Minute):
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Fatalf("appends stalled with the head's compaction (the DB is left open, its goroutines deadlocked):\n%s", b.String())
	}
	require.NoError(t, db.Close())
	// The compactions happened meanwhile, and deleted the old series.
	require.NotEmpty(t, db.Blocks())
	require.Less(t, db.Head().NumSeries(), uint64(series*hours))
	// The compactions are logged, not every write of the chunks.
	require.Contains(t, logged.String(), "write block")
	require.NotContains(t, logged.String(), "Compactions disabled")
}
