package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// ringExemplars are the exemplars in tenant id's ring (not the head's
// files, which hold those the ring overwrote).
func ringExemplars(t *testing.T, s *Store, id string) int {
	t.Helper()
	n, err := exemplarsInRing(tenantTSDB(t, s, id))
	require.NoError(t, err)
	return int(n)
}

// TestExemplarRingGrowsWithTheTenant: a tenant that sends no exemplar has
// a small ring, one that sends them has a ring that grows before it would
// overwrite one, up to -metrics.max-exemplars, and a restart gives each
// the ring it had.
func TestExemplarRingGrowsWithTheTenant(t *testing.T) {
	dir := t.TempDir()
	opts := DefaultOptions()
	opts.MaxExemplars = 10_000
	openStore := func() (*Store, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		s, err := Open(dir, slog.New(slog.DiscardHandler), reg, opts)
		require.NoError(t, err)
		return s, reg
	}
	s, reg := openStore()
	now := time.Now().UnixMilli()
	require.NoError(t, appendOne(t, s, "quiet", "m", now, 1))
	require.Equal(t, float64(minExemplarRing), tenantGauge(t, reg, "prometheus_tsdb_exemplar_max_exemplars", "quiet"))

	// 6,000 exemplars in commits of 500: more than the first two sizes.
	const sent, batch = 6000, 500
	ctx := tenant.With(context.Background(), "busy")
	for b := range sent / batch {
		app := s.Appender(ctx)
		for i := range batch {
			n := b*batch + i
			ls := labels.FromStrings("__name__", "latency_bucket", "le", fmt.Sprint(n%10))
			ts := now - int64(sent-n)*1000
			ref, err := app.Append(0, ls, ts, float64(n))
			require.NoError(t, err)
			_, err = app.AppendExemplar(ref, ls, exemplar.Exemplar{Labels: labels.FromStrings("trace_id", fmt.Sprintf("%032x", n)), Value: float64(n), Ts: ts, HasTs: true})
			require.NoError(t, err)
		}
		require.NoError(t, app.Commit())
		require.Equal(t, (b+1)*batch, ringExemplars(t, s, "busy"), "the ring overwrote an exemplar while below its limit")
	}
	require.Equal(t, float64(opts.MaxExemplars), tenantGauge(t, reg, "prometheus_tsdb_exemplar_max_exemplars", "busy"))
	require.NoError(t, s.Close())

	s, reg = openStore()
	defer s.Close()
	require.Equal(t, sent, ringExemplars(t, s, "busy"), "the WAL replay keeps the ring's exemplars")
	require.Equal(t, float64(opts.MaxExemplars), tenantGauge(t, reg, "prometheus_tsdb_exemplar_max_exemplars", "busy"))
	require.Equal(t, float64(minExemplarRing), tenantGauge(t, reg, "prometheus_tsdb_exemplar_max_exemplars", "quiet"))
}

// TestTenantHeap bounds the heap a tenant costs, one whose head has
// written chunks: what grows with the tenants, up to -limits.max-tenants.
// TSDB's stripes of series take 2.9 MiB of the 3.6 it was; a ring of
// -metrics.max-exemplars or TSDB's chunk write buffer would add 4 each.
func TestTenantHeap(t *testing.T) {
	const tenants, perTenant = 16, 4 << 20
	s := open(t, t.TempDir())
	defer s.Close()
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	// A first tenant before the measure: what the store allocates once.
	t0 := time.Now().Add(-4 * time.Hour).UnixMilli()
	fill := func(id string) {
		require.NoError(t, appendOne(t, s, id, "m", t0, 0))
		app := s.Appender(tenant.With(context.Background(), id))
		for i := int64(1); i < 200; i++ { // full chunks, written out by fullChunks
			_, err := app.Append(0, labels.FromStrings("__name__", "m"), t0+i*60_000, float64(i))
			require.NoError(t, err)
		}
		require.NoError(t, app.Commit())
	}
	fill("first")
	before := heap()
	for i := range tenants {
		fill(fmt.Sprint("t", i))
	}
	grown := heap() - before
	t.Logf("%.2f MiB of heap per tenant", float64(grown)/tenants/(1<<20))
	require.Less(t, grown/tenants, uint64(perTenant))
}
