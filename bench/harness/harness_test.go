package harness

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// sightlineBin is built once by TestMain, as cmd/sightline's tests do.
var sightlineBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "slbench-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sightlineBin = filepath.Join(dir, "sightline")
	// The server is built by its own module, at the repository root.
	build := exec.Command("go", "build", "-o", sightlineBin, "./cmd/sightline")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sightline:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestSmoke runs the whole harness with a tiny load against Sightline, and
// against Prometheus and VictoriaMetrics when they are installed (the
// VictoriaMetrics make bench-deps builds into bin/peers first, which takes
// OTLP), and checks the report as a user reading it would.
func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	o := DefaultOptions()
	o.SightlineBin = sightlineBin
	o.VictoriaMetricsBin = builtPeer(t, "victoria-metrics")
	o.Workload.Series = 2000
	o.Workload.Intervals = 20
	o.Workload.ChurnEvery = 10
	o.Workload.InstancesPerRequest = 4
	o.Workload.Shards = 3
	o.Repeats = 1
	o.QueryWarmup, o.QueryRuns = 1, 2
	o.ProfileSeconds = 1
	o.WorkDir, o.OutDir, o.Name = t.TempDir(), t.TempDir(), "smoke"
	o.Command = "go test ./bench/harness -run TestSmoke"
	var logs bytes.Buffer
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})

	r, err := Run(ctx, o)
	require.NoError(t, err)
	for target, reason := range r.Skipped {
		t.Logf("peer %s skipped: %s", target, reason)
	}
	require.Contains(t, r.Targets, TargetSightlineOTLP)
	require.Contains(t, r.Targets, TargetSightlineRW)
	if o.VictoriaMetricsBin != "" {
		require.Contains(t, r.Targets, TargetVictoriaMetricsOTLP, "bin/peers' VictoriaMetrics takes OTLP")
	}
	require.EqualValues(t, 2000*20, r.Dataset.Samples)

	results := map[string]map[string]QueryResult{}
	for _, run := range r.Runs {
		require.Empty(t, run.Error, "%s failed", run.Target)
		in := run.Ingest
		want := r.Dataset.Samples
		if isOTLP(run.Target) {
			want = r.Dataset.OTLPSamples
		}
		require.Equal(t, want, in.Samples, "%s: every sample acknowledged (first error: %s)", run.Target, in.FirstError)
		require.Zero(t, in.Failed+in.NotSent, run.Target)
		require.Greater(t, in.Rate, 0.0, run.Target)
		require.Zero(t, run.ServerRejected, "%s refused samples", run.Target)
		require.GreaterOrEqual(t, run.ServerAccepted, float64(want), "%s counts what it stored", run.Target)
		require.Greater(t, run.TotalCPU, 0.0, run.Target)
		// The settled CPU counts the ingest and what it left behind.
		require.GreaterOrEqual(t, run.SettledCPU, run.IngestCPU, run.Target)
		require.LessOrEqual(t, run.SettledCPU, run.TotalCPU, run.Target)
		require.Greater(t, run.PeakRSS, int64(1<<20), run.Target)
		require.Greater(t, run.IngestPeakRSS, int64(1<<20), run.Target)
		require.Greater(t, run.Disk.Allocated, int64(0), run.Target)

		results[run.Target] = map[string]QueryResult{}
		for _, q := range run.Queries {
			require.Empty(t, q.Error, "%s: %s", run.Target, q.Name)
			// VictoriaMetrics fed OTLP has no job and instance labels, so
			// the queries that select by them find nothing there.
			if run.Target != TargetVictoriaMetricsOTLP {
				require.Positive(t, q.Summary.Series, "%s: %s returned nothing", run.Target, q.Name)
			}
			runs := o.QueryRuns
			if isOTLP(run.Target) {
				runs = o.OTLPQueryRuns
			}
			require.Len(t, q.Latencies, querySetEntry(t, q.Name).runs(runs))
			results[run.Target][q.Name] = q
		}
		require.Len(t, results[run.Target], len(QuerySet()))
	}

	// Sightline fed over OTLP and over remote_write holds the same data,
	// so it answers every query the same.
	for _, q := range QuerySet() {
		got, want := results[TargetSightlineOTLP][q.Name], results[TargetSightlineRW][q.Name]
		require.Empty(t, compareSummaries(q.Kind, got.Summary, want.Summary), q.Name)
	}
	// Prometheus has the same series: the counts agree (values may differ
	// a little between the Prometheus 2 and 3 engines).
	if prom, ok := results[TargetPrometheus]; ok {
		for _, q := range QuerySet() {
			require.Equal(t, prom[q.Name].Summary.Series, results[TargetSightlineRW][q.Name].Summary.Series, q.Name)
		}
	}

	require.Len(t, r.Profiles, 2)
	for _, p := range r.Profiles {
		require.Contains(t, p.Top, "flat", "%s profile: %s", p.Kind, p.Top)
	}

	files, err := WriteReport(r, o.OutDir, o.Name)
	require.NoError(t, err)
	require.Len(t, files, 6)
	md, err := os.ReadFile(filepath.Join(o.OutDir, "smoke.md"))
	require.NoError(t, err)
	for _, want := range []string{"## Goals", "## Ingest", "## Storage", "## Queries", "## Profiles", o.Command, "sightline-otlp"} {
		require.Contains(t, string(md), want)
	}
	again, err := LoadJSON[Report](filepath.Join(o.OutDir, "smoke.json"))
	require.NoError(t, err)
	require.Equal(t, r.Dataset.Samples, again.Dataset.Samples)
	require.True(t, r.Dataset.Last.Equal(again.Dataset.Last))
	require.Len(t, again.Runs, len(r.Runs))
	for _, f := range files[2:] {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte("\x89PNG")), "%s is a PNG", f)
	}
}

// builtPeer is the path of the peer binary name that make bench-deps
// builds into bin/peers, or "" if it is not there.
func builtPeer(t *testing.T, name string) string {
	path, err := filepath.Abs(filepath.Join("..", "..", "bin", "peers", name))
	require.NoError(t, err)
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

func querySetEntry(t *testing.T, name string) Query {
	i := slices.IndexFunc(QuerySet(), func(q Query) bool { return q.Name == name })
	require.GreaterOrEqual(t, i, 0, "no query %s in the query set", name)
	return QuerySet()[i]
}
