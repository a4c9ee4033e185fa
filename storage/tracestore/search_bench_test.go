package tracestore

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/traceql"
)

// BenchmarkSearch searches 300,000 flushed spans (100,000 traces, 1% of
// them failing) for the newest 20 traces with a failing checkout span.
func BenchmarkSearch(b *testing.B) {
	s, err := Open(b.TempDir(), DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(b, err)
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 100_000; i++ {
		_, err := s.Append(ctx, trace(i, i%100 == 0))
		require.NoError(b, err)
	}
	require.NoError(b, s.Flush())
	q, err := traceql.Parse(`{ resource.service.name = "checkout" && status = error }`)
	require.NoError(b, err)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, _, err := s.Search(ctx, SearchRequest{Query: q, From: math.MinInt64, To: math.MaxInt64, Limit: 20})
		require.NoError(b, err)
		require.Len(b, res, 20)
	}
}
