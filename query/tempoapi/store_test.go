package tempoapi

import (
	"context"
	"log/slog"
	"math"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tracestore"
	"github.com/sightline-dev/sightline/storage/tracestore/tracestoretest"
)

// NewStore over the trace store: searches run the TraceQL engine, tag
// values come typed.
func TestNewStore(t *testing.T) {
	ts, err := tracestore.Open(t.TempDir(), tracestore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	defer ts.Close()
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		tr := tracestoretest.Trace(i, i%100 == 0)
		tr[0].Attributes = append(tr[0].Attributes, record.KV{Key: "retries", Value: []string{"10", "9", "010"}[i%3], Type: record.TypeInt})
		_, err := ts.Append(ctx, tr)
		require.NoError(t, err)
		if i == 150 {
			require.NoError(t, ts.Flush())
		}
	}
	s := NewStore(ts)

	q, err := traceql.Parse(`{ status = error }`)
	require.NoError(t, err)
	res, st, err := s.Search(ctx, traceql.SearchRequest{Query: q, From: math.MinInt64, To: math.MaxInt64, Limit: 10})
	require.NoError(t, err)
	require.Len(t, res, 3)
	require.Equal(t, tracestoretest.Trace(200, true)[0].TraceID, res[0].TraceID)
	require.Equal(t, 1, st.Segments)

	vals, err := s.TagValues(ctx, "resource.service.name", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.StringValue("checkout"), traceql.StringValue("frontend")}, vals)
	vals, err = s.TagValues(ctx, ".http.status_code", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.IntValue(200)}, vals)
	// 10 and 010 are one value; sorted as TraceQL prints them.
	vals, err = s.TagValues(ctx, "span.retries", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.IntValue(10), traceql.IntValue(9)}, vals)
	vals, err = s.TagValues(ctx, "status", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Equal(t, []traceql.Value{traceql.StringValue("unset"), traceql.StringValue("ok"), traceql.StringValue("error")}, vals)
	vals, err = s.TagValues(ctx, "kind", math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	require.Len(t, vals, 6)
}
