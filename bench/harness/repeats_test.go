package harness

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// logRun is a hand-made log report: rate records/s, and with vlRate > 0
// a VictoriaLogs run at vlRate; trace lookups of lookup.
func logRun(rate, vlRate float64, lookup time.Duration) *LogReport {
	r := &LogReport{Sent: 1000, RecordsPerSecond: rate, CPUSeconds: 0.01, PeakRSS: 100 << 20, DiskBytes: 50_000,
		TraceLookups: []time.Duration{lookup, 2 * lookup}, Searches: map[string][]time.Duration{"a": {time.Millisecond}},
		Limit: LogQLResult{LookupResult: LookupResult{Latencies: []time.Duration{3 * time.Millisecond}}}}
	if vlRate > 0 {
		r.VictoriaLogs = &LogPeerReport{Sent: 1000, RecordsPerSecond: vlRate, CPUSeconds: 0.02, PeakRSS: 200 << 20, DiskBytes: 25_000,
			TraceLookups: []time.Duration{time.Millisecond}, Searches: map[string][]time.Duration{"a": {2 * time.Millisecond}},
			Limit: LogQLResult{LookupResult: LookupResult{Latencies: []time.Duration{time.Millisecond}}}}
	}
	return r
}

// TestRepeatFigures checks the medians, spreads and ratios of the key
// figures on hand-made runs.
func TestRepeatFigures(t *testing.T) {
	runs := []*LogReport{logRun(300, 100, 4*time.Millisecond), logRun(100, 100, 2*time.Millisecond), logRun(200, 50, 6*time.Millisecond)}
	require.Same(t, runs[2], medianRun(runs, func(r *LogReport) float64 { return r.RecordsPerSecond }))
	require.Same(t, runs[1], medianRun(runs[:2], func(r *LogReport) float64 { return r.RecordsPerSecond }), "the lower middle of an even count")

	figs := repeatFigures(runs, logPeerOf, logFigures)
	byName := map[string]RepeatFigure{}
	for _, f := range figs {
		byName[f.Short] = f
	}
	rate := byName["records/s"]
	require.Equal(t, []float64{300, 100, 200}, rate.Sightline)
	require.Equal(t, []float64{100, 100, 50}, rate.Peer)
	require.InDelta(t, 2.0, rate.Ratio(), 1e-9, "200 ÷ 100")
	lo, hi := rate.RatioRange()
	require.InDelta(t, 1.0, lo, 1e-9)
	require.InDelta(t, 4.0, hi, 1e-9)
	require.True(t, rate.SightlineBetter(), "more records/s")

	cpu := byName["CPU/record"]
	require.InDelta(t, 10, median(cpu.Sightline), 1e-9, "0.01 s over 1000 records")
	require.InDelta(t, 0.5, cpu.Ratio(), 1e-9)
	require.True(t, cpu.SightlineBetter(), "less CPU")
	disk := byName["B/record"]
	require.InDelta(t, 2, disk.Ratio(), 1e-9)
	require.False(t, disk.SightlineBetter(), "more bytes")
	trace := byName["trace p99"]
	require.Equal(t, []float64{8, 4, 12}, trace.Sightline)
	require.InDelta(t, 8, trace.Ratio(), 1e-9)

	var b strings.Builder
	writeRepeats(&b, figs, len(runs), "VictoriaLogs", 3)
	md := b.String()
	require.Contains(t, md, "## Repeats")
	require.Contains(t, md, "| sustained ingest (records/s) | 200 [100–300] | 100 [50–100] | 2.00× [1.00–4.00] | higher (Sightline) |")
	require.Contains(t, md, "| on disk (B/record) | 50.00 [50.00–50.00] | 25.00 [25.00–25.00] | 2.00× [2.00–2.00] | lower (VictoriaLogs) |")
	require.Contains(t, md, "| count by service p50 (ms) | 0.00 [0.00–0.00] | 0.00 [0.00–0.00] | – | lower |", "no ratio of zeros")

	// Without a peer in every run: Sightline's figures alone.
	runs[1].VictoriaLogs = nil
	alone := repeatFigures(runs, logPeerOf, logFigures)
	require.Nil(t, alone[0].Peer)
	require.True(t, math.IsNaN(alone[0].Ratio()))
	b.Reset()
	writeRepeats(&b, alone, len(runs), "", 3)
	require.Contains(t, b.String(), "No peer ran")
	require.Contains(t, b.String(), "| sustained ingest (records/s) | 200 [100–300] | higher |")
}

// TestRepeatReports writes both reports from hand-made runs, with and
// without a peer, and renders them again from their JSON.
func TestRepeatReports(t *testing.T) {
	dir := t.TempDir()
	logs := []*LogReport{logRun(300, 100, 4*time.Millisecond), logRun(100, 100, 2*time.Millisecond)}
	files, err := WriteLogReport(logs, dir, "logs")
	require.NoError(t, err)
	require.Equal(t, []string{"logs.md", "logs.json", "logs-ratios.png", "logs-latency.png"}, baseNames(files))
	md, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(md), "the report above is run 2")
	require.Contains(t, string(md), "![Sightline ÷ VictoriaLogs, ratio of medians per key figure](logs-ratios.png)")
	again, err := LoadRepeats[LogReport](files[1])
	require.NoError(t, err)
	require.Len(t, again, 2)
	require.True(t, IsRepeats(files[1]))

	traces := []*TraceReport{{Realistic: TraceIngest{Spans: 100, SpansPerSecond: 10}, ByID: LookupResult{Latencies: []time.Duration{time.Millisecond}}}}
	files, err = WriteTraceReport(traces, dir, "traces")
	require.NoError(t, err)
	require.Equal(t, []string{"traces.md", "traces.json", "traces-latency.png"}, baseNames(files), "no ratio plot without a peer")
	md, err = os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(md), "No peer ran")
	// A single run's report as written before -repeats reads back too.
	single, err := writeReportJSON(traces[0], dir, "single")
	require.NoError(t, err)
	require.False(t, IsRepeats(single))
	runs, err := LoadRepeats[TraceReport](single)
	require.NoError(t, err)
	require.Len(t, runs, 1)
	require.Equal(t, traces[0].Realistic, runs[0].Realistic)
}

func baseNames(files []string) []string {
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	return out
}

// TestTraceRepeatsSmoke runs a tiny trace benchmark twice against the real
// binary (and Jaeger, when it is built) and checks the report's Repeats
// section and plots.
func TestTraceRepeatsSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := DefaultTraceOptions()
	o.Sightline = sightlineBin
	o.Jaeger, _ = jaegerBin(t)
	o.Spans, o.TelemetrygenSpans, o.Senders = 3_000, 0, 2
	o.TraceLookups, o.CorrelateLookups, o.SearchRuns = 10, 5, 2
	o.HeadMaxAge, o.SpanMetricsInterval, o.SettleQuiet = time.Second, time.Second, time.Second
	runs, err := RunRepeats(ctx, t.TempDir(), 2, t.Logf, func(ctx context.Context, work string) (*TraceReport, error) {
		o.WorkDir = work
		return RunTraces(ctx, o, t.Logf)
	})
	require.NoError(t, err)
	require.Len(t, runs, 2)
	dir := t.TempDir()
	files, err := WriteTraceReport(runs, dir, "traces")
	require.NoError(t, err)
	md, err := os.ReadFile(files[0])
	require.NoError(t, err)
	require.Contains(t, string(md), "## Repeats")
	require.Contains(t, string(md), "The whole benchmark ran 2 time(s)")
	require.Contains(t, string(md), "![Query latency p50 and p99 per query](traces-latency.png)")
	for _, f := range files[2:] {
		st, err := os.Stat(f)
		require.NoError(t, err)
		require.Positive(t, st.Size())
	}
	if o.Jaeger != "" {
		require.Contains(t, string(md), "traces-ratios.png")
	}
}
