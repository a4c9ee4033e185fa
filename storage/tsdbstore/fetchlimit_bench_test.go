package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// BenchmarkFetchLimitedQuery compares a range query read through the
// TSDB's own Querier (no fetch limits) with the same query read through
// its ChunkQuerier, counted against the default fetch limits (on 2 cores:
// 1 to 1.3 times the time, 1.4 times the allocations).
func BenchmarkFetchLimitedQuery(b *testing.B) {
	end := time.Now().Truncate(time.Minute)
	withAndWithoutLimits(b, func(b *testing.B, s *Store) {
		fill(b, s, "a", 1000, end)
		b.ReportAllocs()
		for b.Loop() {
			_, err := rangeQuery(b, s, "a", `sum(rate(m[5m]))`, end)
			require.NoError(b, err)
		}
	})
}

// withAndWithoutLimits runs bench on a store without fetch limits, then on
// one with the default limits.
func withAndWithoutLimits(b *testing.B, bench func(b *testing.B, s *Store)) {
	lim, err := limits.New(limits.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	b.Cleanup(lim.Close)
	for _, c := range []struct {
		name string
		lim  *limits.Registry
	}{{"unlimited", nil}, {"limited", lim}} {
		b.Run(c.name, func(b *testing.B) { bench(b, openLimited(b, c.lim)) })
	}
}

// BenchmarkFetchLimitedQueryOverABlock is BenchmarkFetchLimitedQuery over
// one compacted block and the head: 1,000 series at 60 s for 4 hours, a
// 3-hour rate(). Within limits the block is read as stored, by colblock's
// counting querier, not through the ChunkQuerier, which would re-encode its
// columnar chunks as XOR ones.
func BenchmarkFetchLimitedQueryOverABlock(b *testing.B) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) // on a block boundary
	end := start.Add(4*time.Hour - time.Minute)
	withAndWithoutLimits(b, func(b *testing.B, s *Store) {
		ctx := tenant.With(context.Background(), "a")
		app := s.Appender(ctx)
		for i := range 1000 {
			lset := labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
			for ts := start; !ts.After(end); ts = ts.Add(time.Minute) {
				_, err := app.Append(0, lset, ts.UnixMilli(), float64(ts.Unix()%100000+int64(i)))
				require.NoError(b, err)
			}
		}
		require.NoError(b, app.Commit())
		require.True(b, s.Existing("a", func(db *tsdb.DB) {
			require.NoError(b, db.Compact(context.Background()))
			blocks, _ := blocksInTimeOrder(db, end.Add(-3*time.Hour).UnixMilli(), end.UnixMilli())
			require.Len(b, blocks, 1)
		}))
		engine := promql.NewEngine(promql.EngineOpts{Logger: slog.New(slog.DiscardHandler), MaxSamples: 1e8, Timeout: time.Minute})
		b.ReportAllocs()
		for b.Loop() {
			qry, err := engine.NewRangeQuery(ctx, s, nil, `sum(rate(m[5m]))`, end.Add(-3*time.Hour), end, time.Minute)
			require.NoError(b, err)
			require.NoError(b, qry.Exec(ctx).Err)
			qry.Close()
		}
	})
}
