package harness

import (
	"context"
	"fmt"
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
	files, err := WriteTraceReport([]*TraceReport{r}, dir, "smoke")
	require.NoError(t, err)
	require.Len(t, files, 3, "the report, its JSON and the latency plot")
	md, err := os.ReadFile(filepath.Join(dir, "smoke.md"))
	require.NoError(t, err)
	for _, want := range []string{"## Goals", "≥ 50,000 spans/s", "≤ 100 B/span", "p99 ≤ 100 ms", "p99 ≤ 150 ms", o.Command, "telemetrygen shape", r.SearchQuery, r.MetricsQuery, r.Machine.CPU} {
		require.Contains(t, string(md), want)
	}
	runs, err := LoadRepeats[TraceReport](filepath.Join(dir, "smoke.json"))
	require.NoError(t, err)
	require.Len(t, runs, 1)
	again := runs[0]
	require.Equal(t, r.Realistic, again.Realistic)
	require.Equal(t, r.ByID.Latencies, again.ByID.Latencies)
}

// TestJaegerSideBySide runs a tiny realistic load and the lookups and
// searches against Jaeger too, when `make bench-deps` has built it into
// bin/peers (or $BENCH_JAEGER names a binary), and checks that both
// systems' answers agree.
func TestJaegerSideBySide(t *testing.T) {
	jaeger, why := jaegerBin(t)
	if jaeger == "" {
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := DefaultTraceOptions()
	o.Sightline, o.Jaeger, o.WorkDir = sightlineBin, jaeger, t.TempDir()
	o.Spans, o.TelemetrygenSpans, o.Senders = 5_000, 2_000, 2
	o.SettleQuiet = 2 * time.Second
	o.TraceLookups, o.CorrelateLookups, o.SearchRuns = 20, 20, 2
	// Above the matches of so few spans: both must return them all. The
	// frontend is in most traces and fails in some, which the payment
	// service, in few of them, does not at this size.
	o.SearchLimit, o.SearchService = 5_000, "frontend"
	o.HeadMaxAge, o.SpanMetricsInterval = time.Second, time.Second

	r, err := RunTraces(ctx, o, t.Logf)
	require.NoError(t, err)
	j := r.Jaeger
	require.NotNil(t, j)
	require.Regexp(t, `^v\d+\.\d+\.\d+`, j.Version)
	require.Equal(t, r.Realistic.Spans, j.Ingest.Spans, "the same load")
	require.Equal(t, r.Realistic.Traces, j.Ingest.Traces)
	require.EqualValues(t, j.Ingest.Spans, j.Ingest.Appended, "Jaeger's receiver accepted every span")
	require.Zero(t, j.Ingest.Rejected)
	require.Positive(t, j.Ingest.BytesPerSpan())
	require.Positive(t, j.Ingest.PeakRSS)
	require.Len(t, j.ByID.Latencies, 20)
	require.NotNil(t, j.Telemetrygen)
	require.Equal(t, r.Telemetrygen.Spans, j.Telemetrygen.Spans)
	require.EqualValues(t, j.Telemetrygen.Spans, j.Telemetrygen.Appended)
	require.Positive(t, j.Telemetrygen.BytesPerSpan())
	for name, l := range map[string][2]LookupResult{"by ID": {r.ByID, j.ByID}, "tag search": {r.Search, j.Search}, "service search": {r.ServiceSearch, j.ServiceSearch}} {
		require.Zero(t, l[0].Wrong, "%s: Sightline: %s", name, l[0].FirstError)
		require.Zero(t, l[1].Wrong, "%s: Jaeger: %s", name, l[1].FirstError)
		require.Equal(t, l[0].Hits, l[1].Hits, "%s: traces found", name)
	}
	t.Logf("traces found by both: %d by tag (status error), %d by service", j.Search.Hits, j.ServiceSearch.Hits)
	require.Positive(t, j.Search.Hits)
	require.Less(t, j.ServiceSearch.Hits, o.SearchLimit, "every match returned")
	require.Greater(t, j.ServiceSearch.Hits, j.Search.Hits)

	dir := t.TempDir()
	_, err = WriteTraceReport([]*TraceReport{r}, dir, "smoke")
	require.NoError(t, err)
	md, err := os.ReadFile(filepath.Join(dir, "smoke.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Side by side with Jaeger")
	require.Contains(t, string(md), j.Version)
	runs, err := LoadRepeats[TraceReport](filepath.Join(dir, "smoke.json"))
	require.NoError(t, err)
	require.Equal(t, j, runs[0].Jaeger, "the JSON report keeps the peer's figures")
}

// jaegerBin is $BENCH_JAEGER or bin/peers/jaeger if it exists; otherwise
// "" and why.
func jaegerBin(t *testing.T) (string, string) {
	jaeger := os.Getenv("BENCH_JAEGER")
	if jaeger == "" {
		if jaeger = builtPeer(t, "jaeger"); jaeger == "" {
			return "", "no Jaeger in bin/peers (make bench-deps builds it; BENCH_JAEGER names another binary)"
		}
	}
	if _, err := os.Stat(jaeger); err != nil {
		return "", fmt.Sprintf("no Jaeger at %s (BENCH_JAEGER names it)", jaeger)
	}
	return jaeger, ""
}

// TestTraceSoak runs a few seconds of the soak against Sightline, and
// Jaeger when it is there, and checks the samples and the report.
func TestTraceSoak(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	o := DefaultTraceSoakOptions()
	o.Sightline, o.WorkDir = sightlineBin, t.TempDir()
	jaeger, why := jaegerBin(t)
	if jaeger == "" {
		t.Log(why, "- Sightline alone")
	}
	o.Jaeger = jaeger
	o.Duration, o.Rate, o.SampleEvery = 4*time.Second, 2_000, 500*time.Millisecond
	r, err := RunTraceSoak(ctx, o, t.Logf)
	require.NoError(t, err)
	require.Len(t, r.Runs, map[bool]int{true: 1, false: 2}[jaeger == ""])
	for _, run := range r.Runs {
		require.InDelta(t, 8_000, run.Ingest.Spans, 20, "%s: 4 s at 2,000 spans/s, whole traces", run.System)
		require.GreaterOrEqual(t, len(run.Samples), 5, run.System)
		end := run.Samples[len(run.Samples)-1]
		require.Equal(t, run.Ingest.Spans, end.Spans, run.System)
		require.Positive(t, end.OpenFDs, run.System)
		require.Positive(t, end.RSS, run.System)
		require.Positive(t, end.Goroutines, run.System)
		require.Positive(t, end.DiskBytes, run.System)
		require.Positive(t, end.Query, run.System)
		require.Empty(t, end.QueryError, run.System)
		require.Positive(t, end.QueryHits, run.System)
	}
	require.Positive(t, r.Runs[0].Samples[len(r.Runs[0].Samples)-1].Parts, "Sightline wrote segments")

	dir := t.TempDir()
	files, err := WriteTraceSoakReport(r, dir, "soak")
	require.NoError(t, err)
	require.Len(t, files, 2+len(soakMeasures))
	md, err := os.ReadFile(filepath.Join(dir, "soak.md"))
	require.NoError(t, err)
	for _, want := range []string{"## At the end and at most", "soak-rss.png", r.Query} {
		require.Contains(t, string(md), want)
	}
	again, err := LoadJSON[TraceSoakReport](filepath.Join(dir, "soak.json"))
	require.NoError(t, err)
	require.Equal(t, r.Runs, again.Runs)
}
