package tsdbstore

import (
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/limits"
)

// BenchmarkFetchLimitedQuery compares a range query read through the
// TSDB's own Querier (no fetch limits) with the same query read through
// its ChunkQuerier, counted against the default fetch limits (on 2 cores:
// 1 to 1.3 times the time, 1.4 times the allocations).
func BenchmarkFetchLimitedQuery(b *testing.B) {
	lim, err := limits.New(limits.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	b.Cleanup(lim.Close)
	end := time.Now().Truncate(time.Minute)
	for _, c := range []struct {
		name string
		lim  *limits.Registry
	}{{"unlimited", nil}, {"limited", lim}} {
		b.Run(c.name, func(b *testing.B) {
			s := openLimited(b, c.lim)
			fill(b, s, "a", 1000, end)
			b.ReportAllocs()
			for b.Loop() {
				_, err := rangeQuery(b, s, "a", `sum(rate(m[5m]))`, end)
				require.NoError(b, err)
			}
		})
	}
}
