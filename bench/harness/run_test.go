package harness

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDataEnd: the data ends in the same place of a 2-hour block range
// (in Unix milliseconds, as Prometheus aligns its blocks) whatever the
// time of the run, at least 5 minutes and less than 2 hours and 5 minutes
// before it.
func TestDataEnd(t *testing.T) {
	day := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for now := day; now.Before(day.Add(25 * time.Hour)); now = now.Add(7*time.Minute + 13*time.Second) {
		end := dataEnd(now, time.Minute)
		require.Equal(t, int64(90*time.Minute/time.Millisecond), end.UnixMilli()%int64(2*time.Hour/time.Millisecond), "run at %s", now)
		require.LessOrEqual(t, end, now.Add(-5*time.Minute), "run at %s", now)
		require.Greater(t, end, now.Add(-5*time.Minute-2*time.Hour), "run at %s", now)
	}
	require.Equal(t, time.Date(2026, 12, 1, 19, 30, 0, 0, time.UTC), dataEnd(time.Date(2026, 12, 1, 20, 39, 0, 0, time.UTC), time.Minute))
	require.Equal(t, time.Date(2026, 12, 1, 21, 30, 0, 0, time.UTC), dataEnd(time.Date(2026, 12, 1, 21, 35, 0, 0, time.UTC), time.Minute))
}

// TestOTLPIngestMissing tells a VictoriaMetrics with OTLP ingest from one
// without: Debian's 1.79 (in PATH when installed) has none, the one make
// bench-deps builds into bin/peers has it.
func TestOTLPIngestMissing(t *testing.T) {
	ctx := context.Background()
	if debian, err := exec.LookPath("victoria-metrics"); err == nil && strings.Contains(peerVersion(ctx, kindVictoriaMetrics, debian), "Debian") {
		require.Contains(t, otlpIngestMissing(ctx, debian), "has no OTLP ingest")
	}
	built := builtPeer(t, "victoria-metrics")
	if built == "" {
		t.Skip("no VictoriaMetrics in bin/peers (make bench-deps builds it)")
	}
	require.Empty(t, otlpIngestMissing(ctx, built))
	require.Contains(t, peerVersion(ctx, kindVictoriaMetrics, built), "github.com/VictoriaMetrics/VictoriaMetrics v1.")
}
