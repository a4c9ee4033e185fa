package tsdbstore

import (
	"context"
	"log/slog"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
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
	// far past the first write; the writes run in the background.
	require.True(t, s.existing("a", func(t *tenantDB) { t.chunks.wait() }))
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
	f.wait()
	require.NoError(t, db.Close())
	// The compactions happened meanwhile, and deleted the old series.
	require.NotEmpty(t, db.Blocks())
	require.Less(t, db.Head().NumSeries(), uint64(series*hours))
	// The compactions are logged, not every write of the chunks.
	require.Contains(t, logged.String(), "write block")
	require.NotContains(t, logged.String(), "Compactions disabled")
}

// A commit that starts a write of the full chunks while the head is being
// compacted returns at once: the write waits for the compaction, the
// sender does not (the benchmark's eight senders stopped for 2 to 3
// seconds at every head compaction, behind the commit that waited). Here
// an open query over the hours the compaction drops from the head holds
// the compaction where it waits for such queries.
func TestFullChunksDoNotHoldACommitBehindACompaction(t *testing.T) {
	db, err := tsdb.Open(t.TempDir(), slog.New(slog.DiscardHandler), nil, tsdb.DefaultOptions(), nil)
	require.NoError(t, err)
	f := newFullChunks(db)
	start := time.Now().Add(-6 * time.Hour).Truncate(2 * time.Hour)
	appendMinute := func(m int) {
		app := db.Appender(context.Background())
		_, err := app.Append(0, labels.FromStrings("__name__", "up"), start.Add(time.Duration(m)*time.Minute).UnixMilli(), float64(m))
		require.NoError(t, err)
		require.NoError(t, app.Commit())
	}
	// Three hours: one minute more and the head's first two are a block.
	for m := range 181 {
		appendMinute(m)
		f.commit()
	}
	f.wait()
	q, err := db.Querier(start.UnixMilli(), start.Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	closeQuery := sync.OnceValue(q.Close)
	t.Cleanup(func() { _ = closeQuery() })
	appendMinute(181)
	require.Eventually(t, func() bool { return len(db.Blocks()) > 0 }, time.Minute, 10*time.Millisecond,
		"the head's first two hours were not written as a block")

	// The compaction now waits for the query; the head moves on past the
	// next write of the full chunks.
	for m := 182; m < 200; m++ {
		appendMinute(m)
	}
	committed := make(chan struct{})
	go func() {
		f.commit()
		close(committed)
	}()
	select {
	case <-committed:
	case <-time.After(30 * time.Second):
		t.Fatal("the commit waited for the head's compaction")
	}
	require.True(t, f.writing.Load(), "the commit started no write of the full chunks")

	// The compaction, then the write, end once the query does.
	require.NoError(t, closeQuery())
	f.wait()
	require.Equal(t, start.Add(2*time.Hour).UnixMilli(), db.Head().MinTime())
	require.NoError(t, db.Close())
}
