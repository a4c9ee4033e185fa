package colblock

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// CompactionLimit bounds the compactions (a head written as a block, or
// blocks merged into a longer one) that run at once across the TSDBs that
// share it: a store's tenants. Each tenant's TSDB compacts on its own
// goroutine, and tenants that ingest in real time all reach their head's
// 2-hour boundary within the same minute: without a limit, N tenants
// would hold N compactions' buffers (each its block's symbols and
// postings, see indexWriter) and take every core from ingest at once. The others wait their turn with their head growing meanwhile, as
// Mimir's ingesters do (-blocks-storage.tsdb.head-compaction-concurrency).
// A nil *CompactionLimit does not limit.
type CompactionLimit struct {
	turns   chan struct{}
	waiting prometheus.Gauge
	running atomic.Int64
	// peak is the most compactions that ran at once, for tests.
	peak atomic.Int64
}

// NewCompactionLimit lets n compactions run at once (at least one) and
// registers sightline_metrics_compactions_waiting with reg, if not nil.
func NewCompactionLimit(n int, reg prometheus.Registerer) *CompactionLimit {
	l := &CompactionLimit{
		turns: make(chan struct{}, max(n, 1)),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sightline_metrics_compactions_waiting",
			Help: "Tenants' compactions waiting for their turn (-metrics.compaction-concurrency)."}),
	}
	if reg != nil {
		reg.MustRegister(l.waiting)
	}
	return l
}

// acquire waits for a turn, or until ctx is done (the TSDB closes), and
// returns the function that gives the turn back.
func (l *CompactionLimit) acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	l.waiting.Inc()
	select {
	case l.turns <- struct{}{}:
		l.waiting.Dec()
	case <-ctx.Done():
		l.waiting.Dec()
		return nil, ctx.Err()
	}
	n := l.running.Add(1)
	for p := l.peak.Load(); n > p && !l.peak.CompareAndSwap(p, n); p = l.peak.Load() {
	}
	return func() {
		l.running.Add(-1)
		<-l.turns
	}, nil
}
