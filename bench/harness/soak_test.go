package harness

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSoakSmoke runs the soak for seconds: every signal is acknowledged,
// nothing is refused, every fixed query answers with data, parts are
// sampled, and the report and its plots are written.
func TestSoakSmoke(t *testing.T) {
	o := DefaultSoakOptions()
	o.Sightline, o.WorkDir = sightlineBin, t.TempDir()
	o.Duration, o.SampleEvery, o.HeadMaxAge = 12*time.Second, 2*time.Second, time.Second
	o.LogRate, o.SpanRate, o.MetricSeries, o.MetricInterval = 1000, 500, 1000, time.Second
	r, err := RunSoak(context.Background(), o, t.Logf)
	require.NoError(t, err)
	for _, sig := range []string{"logs", "traces", "metrics"} {
		require.Positive(t, r.Sent[sig], sig)
		require.Zero(t, r.Refused[sig], "%s: %s", sig, r.FirstRefusal[sig])
	}
	require.GreaterOrEqual(t, len(r.Samples), 5)
	end := r.Samples[len(r.Samples)-1]
	require.Equal(t, r.Sent["logs"], end.Records)
	require.Positive(t, end.LogParts, "log heads were flushed into segments")
	require.Positive(t, end.TraceParts, "trace heads were flushed into segments")
	require.Positive(t, end.OpenFDs)
	require.Positive(t, end.Goroutines)
	require.Positive(t, end.LogBytes+end.TraceBytes+end.MetricBytes)
	require.Positive(t, end.LogQuery)
	require.Positive(t, end.TraceQuery)
	require.Positive(t, end.MetricQuery)

	dir := t.TempDir()
	files, err := WriteSoakReport(r, dir, "soak")
	require.NoError(t, err)
	require.Len(t, files, 7)
	md, err := os.ReadFile(filepath.Join(dir, "soak.md"))
	require.NoError(t, err)
	require.Contains(t, string(md), "## Bounded?")
}
