package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// BenchmarkTenantsCompactTogether: 8 tenants of 10,000 series reach their
// first block boundary together and compact, with all of them at once or
// one at a time (-metrics.compaction-concurrency); peak-heap-MiB is how
// much the heap in use grew over the compactions (sampled every 5 ms; run
// with GOGC=50, Sightline's default, to see what the server would hold).
func BenchmarkTenantsCompactTogether(b *testing.B) {
	const tenants, series = 8, 10_000
	for _, conc := range []int{tenants, 1} {
		b.Run(fmt.Sprintf("concurrency=%d", conc), func(b *testing.B) {
			var grew uint64
			for range b.N {
				b.StopTimer()
				dbs := tenantsToCompact(b, conc, tenants, series)
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				peak, stop := sampleHeap()
				b.StartTimer()
				var wg sync.WaitGroup
				for _, db := range dbs {
					wg.Go(func() { require.NoError(b, db.Compact(context.Background())) })
				}
				wg.Wait()
				b.StopTimer()
				stop()
				grew = max(grew, *peak-before.HeapInuse)
			}
			b.ReportMetric(float64(grew)/(1<<20), "peak-heap-MiB")
		})
	}
}

// tenantsToCompact opens a store whose tenants have 4 hours of a minute's
// samples each in their heads, with their TSDBs' own compactions off.
func tenantsToCompact(b *testing.B, conc, tenants, series int) []*tsdb.DB {
	opts := DefaultOptions()
	opts.CompactionConcurrency = conc
	s, err := Open(b.TempDir(), slog.New(slog.DiscardHandler), prometheus.NewRegistry(), opts)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	const hour = int64(time.Hour / time.Millisecond)
	t0 := time.Now().Add(-5*time.Hour).UnixMilli() / (2 * hour) * (2 * hour)
	var dbs []*tsdb.DB
	for tn := range tenants {
		id := fmt.Sprint("t", tn)
		ctx := tenant.With(context.Background(), id)
		for ts := t0; ts < t0+4*hour; ts += 60_000 {
			app := s.Appender(ctx)
			for i := range series {
				_, err := app.Append(0, labels.FromStrings("__name__", "m", "i", strconv.Itoa(i)), ts, float64(i)+float64(ts%1000))
				require.NoError(b, err)
			}
			require.NoError(b, app.Commit())
			if ts == t0 {
				s.Existing(id, func(db *tsdb.DB) { db.DisableCompactions(); dbs = append(dbs, db) })
			}
		}
	}
	return dbs
}

// sampleHeap records the largest heap in use until stop is called.
func sampleHeap() (peak *uint64, stop func()) {
	peak = new(uint64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var m runtime.MemStats
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&m)
			*peak = max(*peak, m.HeapInuse)
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return peak, func() { close(done); wg.Wait() }
}
