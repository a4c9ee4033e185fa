package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestTraceSmoke runs the trace benchmark with a tiny load against the
// real binary and checks the figures and the report.
func TestTraceSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := DefaultTraceOptions()
	o.Sightline = sightlineBin
	o.WorkDir = t.TempDir()
	o.Spans, o.TelemetrygenSpans = 20_000, 5_000
	o.Senders = 2
	o.TraceLookups, o.CorrelateLookups, o.SearchRuns = 30, 30, 2
	o.HeadMaxAge, o.SpanMetricsInterval = time.Second, time.Second
	o.Command = "go test ./bench/harness -run TestTraceSmoke"

	r, err := RunTraces(ctx, o, t.Logf)
	require.NoError(t, err)
	for _, in := range []*TraceIngest{&r.Realistic, r.Telemetrygen} {
		require.NotNil(t, in)
		require.GreaterOrEqual(t, in.Spans, int64(5_000), in.Shape)
		require.Positive(t, in.SpansPerSecond, in.Shape)
		require.EqualValues(t, in.Spans, in.Appended, "%s: Sightline stored every span", in.Shape)
		require.Zero(t, in.Rejected, in.Shape)
		require.EqualValues(t, in.Spans, in.SpanMetricSpans, "%s: span metrics counted every span", in.Shape)
		require.True(t, in.SpanMetricsFlushed, in.Shape)
		require.Positive(t, in.BytesPerSpan(), in.Shape)
		require.GreaterOrEqual(t, in.DataDir.Allocated, in.TraceStore.Allocated, in.Shape)
		require.Positive(t, in.PeakRSS, in.Shape)
	}
	require.Equal(t, "telemetrygen", r.Telemetrygen.Shape)
	require.EqualValues(t, 2_500, r.Telemetrygen.Traces)
	for name, l := range map[string]LookupResult{"by ID": r.ByID, "correlate": r.Correlate} {
		require.Len(t, l.Latencies, 30, name)
		require.Zero(t, l.Wrong, "%s: %s", name, l.FirstError)
	}
	require.Len(t, r.Search.Latencies, 2)
	require.Zero(t, r.Search.Wrong, r.Search.FirstError)
	require.Positive(t, r.Search.Hits, "the payment service fails in a few percent of its spans")
	require.Len(t, r.Metrics.Latencies, 2)
	require.Zero(t, r.Metrics.Wrong, r.Metrics.FirstError)
	require.Positive(t, r.Metrics.Hits, "a series per service")
	require.InDelta(t, float64(r.Realistic.Spans), r.MetricsSpans, 1, "the rates count every span sent in the last hour")

	dir := t.TempDir()
	files, err := WriteTraceReport(r, dir, "smoke")
	require.NoError(t, err)
	require.Len(t, files, 2)
	md, err := os.ReadFile(filepath.Join(dir, "smoke.md"))
	require.NoError(t, err)
	for _, want := range []string{"## Goals", "≥ 50,000 spans/s", "≤ 100 B/span", "p99 ≤ 100 ms", "p99 ≤ 150 ms", o.Command, "telemetrygen shape", r.SearchQuery, r.MetricsQuery, r.Machine.CPU} {
		require.Contains(t, string(md), want)
	}
	again, err := LoadTraceReport(filepath.Join(dir, "smoke.json"))
	require.NoError(t, err)
	require.Equal(t, r.Realistic, again.Realistic)
	require.Equal(t, r.ByID.Latencies, again.ByID.Latencies)
}
