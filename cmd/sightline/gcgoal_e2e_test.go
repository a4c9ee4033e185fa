package main_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGCGoal: Go's collector runs at -runtime.gogc percent of the live
// heap, raised while the heap is small so that it may grow by at least
// -runtime.gc-min-headroom (128 MiB by default) between collections; a
// fresh server's heap is a few MiB, so its percentage is well above 50.
func TestGCGoal(t *testing.T) {
	t.Setenv("GOGC", "") // the servers' environment: a GOGC there wins over the flags
	percent := func(s *server) int {
		t.Helper()
		v, err := strconv.Atoi(metricValue(t, s, "go_gc_gogc_percent"))
		require.NoError(t, err)
		return v
	}
	s := startServer(t, t.TempDir(), "-runtime.gogc", "60", "-runtime.gc-min-headroom", "0")
	require.Equal(t, 60, percent(s), "no floor: -runtime.gogc itself")
	s = startServer(t, t.TempDir())
	require.Greater(t, percent(s), 200, "a fresh server's few MiB of heap, raised to 128 MiB of headroom")
}
