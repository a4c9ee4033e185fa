package generator

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/storage/tenant"
)

// Appendable is where the generated series go. *tsdbstore.Store satisfies
// it: Appender(ctx) returns an appender into the TSDB of the tenant in ctx
// (tenant.With). Appender must not return nil; it reports a tenant it cannot
// write to through the appender's errors.
type Appendable interface {
	Appender(ctx context.Context) storage.Appender
}

// Generator turns spans into Tempo's span metrics and service graph series,
// kept per tenant as cumulative values in memory and appended to an
// Appendable every FlushInterval. It is safe for concurrent use.
type Generator struct {
	app    Appendable
	opts   Options
	logger *slog.Logger
	m      *metrics
	seed   maphash.Seed

	// Shared by every series; immutable after New.
	latency, graphServer, graphClient *histLayout
	seriesPerSpanKey                  int64 // calls, size and the latency histogram
	seriesPerEdgeKey                  int64 // requests and the two latency histograms; failures come on top

	// now is the clock; tests replace it before the first call.
	now func() time.Time

	tenantsMu sync.RWMutex
	tenants   map[string]*tenantState // guarded by tenantsMu

	flushMu sync.Mutex
	// lastFlushMs is the timestamp of the previous flush, the time at which
	// a series created since was still 0 (New's time before the first
	// flush). Guarded by flushMu, as is buf.
	lastFlushMs int64
	// buf holds one tenant's samples between taking them under the series
	// locks and appending them outside; reused so a flush allocates little.
	buf []sample

	startOnce, stopOnce sync.Once
	stopc               chan struct{}
	wg                  sync.WaitGroup
}

// New returns a Generator writing to app. A nil logger discards logs; a nil
// reg leaves the Generator's own metrics unregistered.
func New(app Appendable, opts Options, logger *slog.Logger, reg prometheus.Registerer) (*Generator, error) {
	if app == nil {
		return nil, errors.New("span metrics: nil appendable")
	}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("span metrics options: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	g := &Generator{
		app:         app,
		opts:        opts,
		logger:      logger,
		m:           m,
		seed:        maphash.MakeSeed(),
		latency:     newHistLayout(metricLatency, opts.LatencyBuckets),
		graphServer: newHistLayout(metricRequestServerSeconds, opts.ServiceGraphLatencyBuckets),
		graphClient: newHistLayout(metricRequestClientSeconds, opts.ServiceGraphLatencyBuckets),
		now:         time.Now,
		tenants:     map[string]*tenantState{},
		lastFlushMs: time.Now().UnixMilli(),
		stopc:       make(chan struct{}),
	}
	g.seriesPerSpanKey = 2 + g.latency.seriesPerHist
	g.seriesPerEdgeKey = 1 + g.graphServer.seriesPerHist + g.graphClient.seriesPerHist
	return g, nil
}

func (g *Generator) tenant(id string) *tenantState {
	g.tenantsMu.RLock()
	t := g.tenants[id]
	g.tenantsMu.RUnlock()
	if t != nil {
		return t
	}
	g.tenantsMu.Lock()
	defer g.tenantsMu.Unlock()
	if t = g.tenants[id]; t == nil {
		t = newTenantState(id, g.m.forTenant(id))
		g.tenants[id] = t
	}
	return t
}

// Consume counts the spans of td into the cumulative state of the tenant of
// ctx (tenant.FromContext). It only updates memory: locks are held per span,
// and a span allocates nothing unless it starts a new series or waits for
// its service graph pair in a fresh edge.
func (g *Generator) Consume(ctx context.Context, td ptrace.Traces) {
	t := g.tenant(tenant.FromContext(ctx))
	now := g.now()
	nowMs, nowNs := now.UnixMilli(), now.UnixNano()
	var sizer ptrace.ProtoMarshaler
	n := 0
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		resAttrs := rs.Resource().Attributes()
		// Tempo leaves the service label out when service.name is missing,
		// and leaves such spans out of the service graph, whose nodes are
		// services.
		svc, hasSvc := "", false
		if v, ok := resAttrs.Get("service.name"); ok {
			svc = truncateValue(v.AsString())
			hasSvc = svc != ""
		}
		svcHash := maphash.String(g.seed, svc)
		var res peerAttrs
		if hasSvc {
			res.scan(resAttrs)
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			n += spans.Len()
			for k := 0; k < spans.Len(); k++ {
				span := spans.At(k)
				g.observeSpan(t, svc, svcHash, span, sizer.SpanSize(span), nowMs)
				if hasSvc {
					g.observeEdge(t, svc, &res, span, nowMs, nowNs)
				}
			}
		}
	}
	t.m.spans.Add(float64(n))
}

// Start begins flushing every FlushInterval. Later calls do nothing.
func (g *Generator) Start() {
	g.startOnce.Do(func() {
		g.wg.Add(1)
		go g.run()
	})
}

func (g *Generator) run() {
	defer g.wg.Done()
	tick := time.NewTicker(g.opts.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-g.stopc:
			return
		case <-tick.C:
			if err := g.Flush(context.Background()); err != nil {
				g.logger.Warn("flush span metrics", "err", err)
			}
		}
	}
}

// Stop ends the flush loop, waits for a flush under way, then flushes once
// more so that nothing counted since the last tick is lost. Later calls do
// nothing.
func (g *Generator) Stop() {
	g.stopOnce.Do(func() {
		close(g.stopc)
		g.wg.Wait()
		if err := g.Flush(context.Background()); err != nil {
			g.logger.Warn("last flush of span metrics", "err", err)
		}
	})
}

// Flush appends the current value of every tenant's series, with a
// timestamp of now, and their exemplars recorded since the last flush; it
// also expires unpaired service graph edges and removes stale series.
// Refused samples are counted and logged, once per flush; the error returned
// is that of the commits.
func (g *Generator) Flush(ctx context.Context) error {
	g.flushMu.Lock()
	defer g.flushMu.Unlock()
	start := time.Now()
	defer func() { g.m.flushDurations.Observe(time.Since(start).Seconds()) }()

	now := g.now()
	nowNs := now.UnixNano()
	ts := now.UnixMilli()
	// Two flushes in one millisecond (Stop right after a tick) would give a
	// series two values at one timestamp, which the TSDB refuses.
	if ts <= g.lastFlushMs {
		ts = g.lastFlushMs + 1
	}
	zeroTs := g.lastFlushMs
	g.lastFlushMs = ts
	staleBefore := int64(math.MinInt64)
	if g.opts.StaleSeriesTimeout > 0 {
		staleBefore = ts - g.opts.StaleSeriesTimeout.Milliseconds()
	}

	g.tenantsMu.RLock()
	tenants := make([]*tenantState, 0, len(g.tenants))
	for _, t := range g.tenants {
		tenants = append(tenants, t)
	}
	g.tenantsMu.RUnlock()

	var (
		errs    []error
		refused refusals
		firstOf string
	)
	for _, t := range tenants {
		if err := ctx.Err(); err != nil {
			errs = append(errs, fmt.Errorf("flush span metrics: %w", err))
			break
		}
		r, err := g.flushTenant(ctx, t, ts, zeroTs, nowNs, staleBefore)
		if r.n > 0 {
			if refused.n == 0 {
				refused.first, firstOf = r.first, t.id
			}
			refused.n += r.n
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if refused.n > 0 {
		g.logger.Warn("metrics store refused span metrics samples", "refused", refused.n, "tenant", firstOf, "err", refused.first)
	}
	return errors.Join(errs...)
}

// refusals are the samples and exemplars an appender refused: how many, and
// the first error, which stands for the rest in the one log line per flush.
type refusals struct {
	n     int
	first error
}

func (r *refusals) add(err error) {
	if r.n == 0 {
		r.first = err
	}
	r.n++
}

// flushTenant appends t's series. It returns what the appender refused and
// the commit error.
func (g *Generator) flushTenant(ctx context.Context, t *tenantState, ts, zeroTs, nowNs, staleBefore int64) (refusals, error) {
	buf := g.snapshotSpans(t, g.buf[:0], staleBefore)
	buf = g.snapshotGraph(t, buf, ts, nowNs, staleBefore)
	defer func() {
		// Drop the label references so removed series can be collected.
		clear(buf)
		g.buf = buf[:0]
	}()
	var refused refusals
	if len(buf) == 0 {
		return refused, nil
	}

	app := g.app.Appender(tenant.With(ctx, t.id))
	for i := range buf {
		s := &buf[i]
		if s.isNew {
			// A series' first sample is preceded by a 0 at the previous flush,
			// when it was indeed 0, so that rate() and increase() count the
			// spans of its first interval (Tempo does the same, at the end of
			// the previous minute). The previous flush is after any sample a
			// previous process or a since removed stale series wrote, so even
			// a TSDB accepting out-of-order samples cannot take this 0 for a
			// counter reset in the middle of old data. If it is refused
			// anyway the series merely starts at its first value.
			_, _ = app.Append(0, s.lset, zeroTs, 0)
		}
		ref, err := app.Append(0, s.lset, ts, s.v)
		if err != nil {
			refused.add(fmt.Errorf("append %s: %w", s.lset, err))
			continue
		}
		if s.ex.set {
			_, err := app.AppendExemplar(ref, s.lset, s.ex.exemplar(ts))
			// A store without exemplar storage is a setting, not a failure.
			if err != nil && !errors.Is(err, storage.ErrExemplarsDisabled) {
				refused.add(fmt.Errorf("append exemplar of %s: %w", s.lset, err))
			}
		}
	}
	if refused.n > 0 {
		t.m.appendErrors.Add(float64(refused.n))
	}
	if err := app.Commit(); err != nil {
		t.m.appendErrors.Inc()
		return refused, fmt.Errorf("commit span metrics of tenant %s: %w", t.id, err)
	}
	return refused, nil
}
