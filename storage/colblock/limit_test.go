package colblock

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"
)

// Tenants whose heads reach a block boundary together compact one at a
// time: while a turn is taken, every one waits (and says so in
// sightline_metrics_compactions_waiting) and writes nothing; given the
// turn back, each writes its block, never two at once. A TSDB that
// closes while it waits stops waiting.
func TestCompactionsTakeTurns(t *testing.T) {
	const tenants = 3
	lim := NewCompactionLimit(1, prometheus.NewRegistry())
	dbs := make([]*tsdb.DB, tenants)
	closers := make([]func() error, tenants) // the first is closed by the test
	for i := range dbs {
		o := options(false)
		co := DefaultOptions()
		co.Limit = lim
		Configure(o, NewReaders(), co)
		db, err := tsdb.Open(t.TempDir(), nil, nil, o, nil)
		require.NoError(t, err)
		db.DisableCompactions() // the test compacts, not the TSDB's loop
		closers[i] = sync.OnceValue(db.Close)
		t.Cleanup(func() { _ = closers[i]() })
		appendTestData(t, db, day0, 4) // a 2-hour block to write
		dbs[i] = db
	}

	release, err := lim.acquire(context.Background()) // the turn is taken
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, tenants)
	for i, db := range dbs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Compact(context.Background())
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(lim.waiting) != tenants {
		require.True(t, time.Now().Before(deadline), "%v compactions waiting, want %d", testutil.ToFloat64(lim.waiting), tenants)
		runtime.Gosched()
	}
	for _, db := range dbs {
		require.Empty(t, db.Blocks(), "a block was written while another compaction had the turn")
	}
	release()
	wg.Wait()
	for i, db := range dbs {
		require.NoError(t, errs[i])
		require.Len(t, db.Blocks(), 1)
	}
	require.EqualValues(t, 1, lim.peak.Load(), "compactions ran at once")
	require.Zero(t, testutil.ToFloat64(lim.waiting))

	// A TSDB closing while its compaction waits does not wait for the turn.
	release, err = lim.acquire(context.Background())
	require.NoError(t, err)
	defer release()
	appendTestData(t, dbs[0], day0+4*hour, 2) // the next block
	done := make(chan error, 1)
	go func() { done <- dbs[0].Compact(context.Background()) }()
	for testutil.ToFloat64(lim.waiting) != 1 {
		require.True(t, time.Now().Before(deadline.Add(30*time.Second)), "the compaction does not wait")
		runtime.Gosched()
	}
	closed := make(chan error, 1)
	go func() { closed <- closers[0]() }()
	require.ErrorIs(t, <-done, context.Canceled)
	require.NoError(t, <-closed)
}
