package generator

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/storage/tenant"
)

var ctx = context.Background()

func TestSpanMetrics(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	get := func(d time.Duration, trace byte, status ptrace.StatusCode) spanSpec {
		return spanSpec{service: "frontend", name: "GET /cart", kind: ptrace.SpanKindServer, status: status,
			trace: trace, span: trace, start: clk.at(-time.Minute), duration: d}
	}
	g.Consume(ctx, traces(t,
		get(time.Millisecond, 1, ptrace.StatusCodeUnset),
		get(50*time.Millisecond, 2, ptrace.StatusCodeUnset),
		get(10*time.Millisecond, 3, ptrace.StatusCodeError),
		get(2*time.Second, 4, ptrace.StatusCodeUnset),
		spanSpec{name: "cron", kind: ptrace.SpanKindInternal, status: ptrace.StatusCodeOk, trace: 5, span: 5,
			start: clk.at(-time.Minute), duration: time.Second},
	))
	require.NoError(t, g.Flush(ctx))

	require.Equal(t, []string{
		`{__name__="traces_spanmetrics_calls_total", service="frontend", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_ERROR"}`,
		`{__name__="traces_spanmetrics_calls_total", service="frontend", span_kind="SPAN_KIND_SERVER", span_name="GET /cart", status_code="STATUS_CODE_UNSET"}`,
		// No service.name: no service label, as in Tempo.
		`{__name__="traces_spanmetrics_calls_total", span_kind="SPAN_KIND_INTERNAL", span_name="cron", status_code="STATUS_CODE_OK"}`,
	}, labelSets(t, db, metricCallsTotal))

	ok := []string{"service", "frontend", "status_code", "STATUS_CODE_UNSET"}
	require.Equal(t, 3.0, value(t, db, metricCallsTotal, ok...))
	require.Equal(t, 1.0, value(t, db, metricCallsTotal, "status_code", "STATUS_CODE_ERROR"))
	require.Equal(t, 3.0, value(t, db, "traces_spanmetrics_latency_count", ok...))
	require.InDelta(t, 2.051, value(t, db, "traces_spanmetrics_latency_sum", ok...), 1e-9)
	require.Positive(t, value(t, db, metricSizeTotal, ok...))

	wantBuckets := map[string]float64{
		"0.002": 1, "0.004": 1, "0.008": 1, "0.016": 1, "0.032": 1, "0.064": 2, "0.128": 2, "0.256": 2,
		"0.512": 2, "1.024": 2, "2.048": 3, "4.096": 3, "8.192": 3, "16.384": 3, "+Inf": 3,
	}
	got := map[string]float64{}
	for l, pts := range seriesPoints(t, db, matchers("traces_spanmetrics_latency_bucket", ok...)...) {
		ls, err := parseLabels(l)
		require.NoError(t, err)
		got[ls.Get("le")] = pts[len(pts)-1].v
	}
	require.Equal(t, wantBuckets, got)

	// The exemplar is the latest span of the series, and the latest of its bucket.
	ex := exemplars(t, db, metricCallsTotal, ok...)
	require.Len(t, ex, 1)
	require.Equal(t, labels.FromStrings("span_id", "cd00000000000004", "trace_id", "ab000000000000000000000000000004"), ex[0].Labels)
	require.Equal(t, clk.ms(), ex[0].Ts)
	require.True(t, ex[0].HasTs)
	ex = exemplars(t, db, "traces_spanmetrics_latency_bucket", append(ok, "le", "0.064")...)
	require.Len(t, ex, 1)
	require.Equal(t, "ab000000000000000000000000000002", ex[0].Labels.Get("trace_id"))
	require.InDelta(t, 0.05, ex[0].Value, 1e-9)
	require.Empty(t, exemplars(t, db, "traces_spanmetrics_latency_bucket", append(ok, "le", "0.128")...),
		"a bucket's exemplar is the span that fell in it, not one below")
}

// parseLabels reads back labels.Labels.String().
func parseLabels(s string) (labels.Labels, error) {
	b := labels.NewScratchBuilder(8)
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	for _, kv := range strings.Split(s, ", ") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return labels.EmptyLabels(), errors.New("no =")
		}
		b.Add(k, strings.Trim(v, `"`))
	}
	b.Sort()
	return b.Labels(), nil
}

func TestCumulativeAcrossFlushes(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	span := func(trace byte) spanSpec {
		return spanSpec{service: "frontend", name: "GET /", kind: ptrace.SpanKindServer, trace: trace, span: trace,
			start: clk.at(-time.Second), duration: 20 * time.Millisecond}
	}
	created := g.lastFlushMs

	g.Consume(ctx, traces(t, span(1), span(2)))
	t0 := clk.ms()
	require.NoError(t, g.Flush(ctx))
	clk.advance(15 * time.Second)
	g.Consume(ctx, traces(t, span(3)))
	t1 := clk.ms()
	require.NoError(t, g.Flush(ctx))
	clk.advance(15 * time.Second)
	t2 := clk.ms()
	require.NoError(t, g.Flush(ctx))

	calls := seriesPoints(t, db, matchers(metricCallsTotal)...)
	require.Len(t, calls, 1)
	for _, pts := range calls {
		// The 0 before the first value lets rate() see the first interval's spans.
		require.Equal(t, []point{{created, 0}, {t0, 2}, {t1, 3}, {t2, 3}}, pts)
	}
	// One exemplar per flush that saw spans, none for the idle one.
	ex := exemplars(t, db, metricCallsTotal)
	require.Len(t, ex, 2)
	require.Equal(t, t0, ex[0].Ts)
	require.Equal(t, t1, ex[1].Ts)
	require.Equal(t, "ab000000000000000000000000000003", ex[1].Labels.Get("trace_id"))

	// Grafana's RED queries (graphTransform.ts) run on what was written.
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	t.Cleanup(func() { require.NoError(t, eng.Close()) })
	query := func(q string) promql.Vector {
		qry, err := eng.NewInstantQuery(ctx, db, nil, q, clk.now())
		require.NoError(t, err)
		defer qry.Close()
		res := qry.Exec(ctx)
		require.NoError(t, res.Err)
		v, err := res.Vector()
		require.NoError(t, err)
		return v
	}
	v := query(`sum(increase(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}[5m])) by (span_name)`)
	require.Len(t, v, 1)
	require.Equal(t, "GET /", v[0].Metric.Get("span_name"))
	require.InDelta(t, 3.0, v[0].F, 0.5, "increase counts the first interval's spans too")
	v = query(`histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket{}[5m])) by (le))`)
	require.Len(t, v, 1)
	require.InDelta(t, 0.03, v[0].F, 0.01)
}

func TestNegativeDurationCountsAsZero(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "n", trace: 1, span: 1, start: clk.at(0), duration: -time.Second}))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 1.0, value(t, db, "traces_spanmetrics_latency_bucket", "le", "0.002"))
	require.Equal(t, 0.0, value(t, db, "traces_spanmetrics_latency_sum"))
}

func TestTenantsAreSeparate(t *testing.T) {
	dbs := newTenantDBs(t)
	g, clk := newGenerator(t, dbs, nil)
	for _, id := range []string{"a", "b"} {
		g.Consume(tenant.With(ctx, id), traces(t, spanSpec{service: "svc-" + id, name: "op", trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}))
	}
	require.NoError(t, g.Flush(ctx))
	for _, id := range []string{"a", "b"} {
		require.Equal(t, []string{
			`{__name__="traces_spanmetrics_calls_total", service="svc-` + id + `", span_kind="SPAN_KIND_UNSPECIFIED", span_name="op", status_code="STATUS_CODE_UNSET"}`,
		}, labelSets(t, dbs.db(id), metricCallsTotal))
	}
}

func TestMaxSeries(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, func(o *Options) { o.MaxSeries = 19 })
	require.EqualValues(t, 19, g.seriesPerSpanKey, "calls, size, 15 buckets, sum, count")
	span := func(name string) spanSpec {
		return spanSpec{service: "s", name: name, trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}
	}
	g.Consume(ctx, traces(t, span("first"), span("second"), span("first"), span("second")))
	require.NoError(t, g.Flush(ctx))

	tm := g.tenant(tenant.Default).m
	require.Equal(t, 2.0, testutil.ToFloat64(tm.seriesDropped))
	require.Equal(t, 19.0, testutil.ToFloat64(tm.series))
	require.Equal(t, 2.0, value(t, db, metricCallsTotal, "span_name", "first"))
	require.Empty(t, labelSets(t, db, metricCallsTotal, "span_name", "second"))
}

func TestStaleSeriesAreRemoved(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, func(o *Options) { o.StaleSeriesTimeout = time.Minute })
	span := spanSpec{service: "s", name: "n", kind: ptrace.SpanKindInternal, trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}
	g.Consume(ctx, traces(t, span))
	require.NoError(t, g.Flush(ctx))
	tm := g.tenant(tenant.Default).m
	require.Equal(t, 19.0, testutil.ToFloat64(tm.series))

	clk.advance(2 * time.Minute)
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 0.0, testutil.ToFloat64(tm.series))
	flushedWithout := clk.ms()

	// Back again, it starts from 0 after the last flush, which the TSDB takes
	// as a counter reset and not as out of order.
	clk.advance(15 * time.Second)
	g.Consume(ctx, traces(t, span))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 0.0, testutil.ToFloat64(tm.appendErrors))
	for _, pts := range seriesPoints(t, db, matchers(metricCallsTotal)...) {
		require.Equal(t, point{flushedWithout, 0}, pts[len(pts)-2])
		require.Equal(t, point{clk.ms(), 1}, pts[len(pts)-1])
	}
}

func TestInvalidUTF8SpansAreDropped(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "bad\xff", trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 1.0, testutil.ToFloat64(g.tenant(tenant.Default).m.invalidSpans))
	require.Empty(t, labelSets(t, db, metricCallsTotal))
}

func TestTruncateValue(t *testing.T) {
	f := func(in string, wantLen int) {
		t.Helper()
		got := truncateValue(in)
		require.Len(t, got, wantLen)
		require.True(t, strings.HasPrefix(in, got))
	}
	f("short", 5)
	f(strings.Repeat("a", 3000), maxLabelValueLen)
	// "é" is 2 bytes: 2048 falls on a rune start, 2047 bytes + "é" does not.
	f(strings.Repeat("é", 2000), maxLabelValueLen)
	f("a"+strings.Repeat("é", 2000), maxLabelValueLen-1)
}

func TestExemplarsDisabledIsNotAnError(t *testing.T) {
	db := openDB(t, false)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "n", trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 0.0, testutil.ToFloat64(g.tenant(tenant.Default).m.appendErrors))
	require.Equal(t, 1.0, value(t, db, metricCallsTotal))
}

// failingAppender refuses everything, as a store that cannot open a tenant's TSDB does.
type failingAppender struct{ err error }

func (a failingAppender) Appender(context.Context) storage.Appender { return a }
func (a failingAppender) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) AppendExemplar(storage.SeriesRef, labels.Labels, exemplar.Exemplar) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) AppendHistogram(storage.SeriesRef, labels.Labels, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) AppendHistogramCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64, *histogram.Histogram, *histogram.FloatHistogram) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) UpdateMetadata(storage.SeriesRef, labels.Labels, metadata.Metadata) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) AppendCTZeroSample(storage.SeriesRef, labels.Labels, int64, int64) (storage.SeriesRef, error) {
	return 0, a.err
}
func (a failingAppender) SetOptions(*storage.AppendOptions) {}
func (a failingAppender) Commit() error                     { return a.err }
func (a failingAppender) Rollback() error                   { return nil }

func TestAppendErrorsAreCountedNotFatal(t *testing.T) {
	boom := errors.New("disk full")
	g, clk := newGenerator(t, failingAppender{boom}, nil)
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "n", trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}))
	err := g.Flush(ctx)
	require.ErrorIs(t, err, boom)
	// 19 refused samples and the failed commit.
	require.Equal(t, 20.0, testutil.ToFloat64(g.tenant(tenant.Default).m.appendErrors))
	// The state is kept: the next flush tries again with the same values.
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "n", trace: 1, span: 1, start: clk.at(0), duration: time.Millisecond}))
	require.ErrorIs(t, g.Flush(ctx), boom)
}

func TestStartStop(t *testing.T) {
	db := openDB(t, true)
	g, err := New(dbAppendable{db}, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	g.Start()
	g.Start()
	g.Consume(ctx, traces(t, spanSpec{service: "s", name: "n", trace: 1, span: 1, duration: time.Millisecond}))
	// The flush interval is 15s: what is there comes from Stop's last flush.
	g.Stop()
	g.Stop()
	require.Equal(t, 1.0, value(t, db, metricCallsTotal))
}

func TestStopWithoutStart(t *testing.T) {
	db := openDB(t, true)
	g, err := New(dbAppendable{db}, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	g.Stop()
}

func TestNewRejectsBadOptions(t *testing.T) {
	db := openDB(t, false)
	f := func(mod func(*Options), want string) {
		t.Helper()
		o := DefaultOptions()
		mod(&o)
		_, err := New(dbAppendable{db}, o, nil, nil)
		require.ErrorContains(t, err, want)
	}
	f(func(o *Options) { o.FlushInterval = 0 }, "flush interval")
	f(func(o *Options) { o.LatencyBuckets = nil }, "latency buckets: none")
	f(func(o *Options) { o.LatencyBuckets = []float64{1, 0.5} }, "strictly increasing")
	f(func(o *Options) { o.ServiceGraphLatencyBuckets = []float64{1, 2, math.Inf(1)} }, "service graph latency buckets")
	f(func(o *Options) { o.ServiceGraphWait = 0 }, "wait")
	f(func(o *Options) { o.ServiceGraphMaxItems = 0 }, "max items")
	f(func(o *Options) { o.MaxSeries = -1 }, "max series")
	f(func(o *Options) { o.StaleSeriesTimeout = -1 }, "stale")

	_, err := New(nil, DefaultOptions(), nil, nil)
	require.Error(t, err)
}

// TestConcurrentConsumeAndFlush is for the race detector: ingest from several
// goroutines and tenants while flushing, and nothing is lost.
func TestConcurrentConsumeAndFlush(t *testing.T) {
	dbs := newTenantDBs(t)
	g, err := New(dbs, DefaultOptions(), nil, nil)
	require.NoError(t, err)
	const workers, batches = 4, 50
	// A trace per worker: the client and server span of a batch pair up
	// within the batch whatever the other workers do.
	tds := make([]ptrace.Traces, workers)
	for w := range tds {
		tr := byte(w + 1)
		tds[w] = traces(t,
			spanSpec{service: "frontend", name: "GET", kind: ptrace.SpanKindClient, trace: tr, span: 1, duration: time.Millisecond},
			spanSpec{service: "backend", name: "GET", kind: ptrace.SpanKindServer, trace: tr, span: 2, parent: 1, duration: time.Millisecond},
			spanSpec{service: "backend", name: "query", kind: ptrace.SpanKindInternal, trace: tr, span: 3, parent: 2, duration: time.Millisecond},
		)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := tenant.With(ctx, []string{"a", "b"}[w%2])
			for range batches {
				g.Consume(c, tds[w])
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	for flushing := true; flushing; {
		select {
		case <-done:
			flushing = false
		default:
			require.NoError(t, g.Flush(ctx))
		}
	}
	require.NoError(t, g.Flush(ctx))
	for _, id := range []string{"a", "b"} {
		require.Equal(t, float64(workers/2*batches), value(t, dbs.db(id), metricCallsTotal, "span_name", "query"))
		require.Equal(t, float64(workers/2*batches), value(t, dbs.db(id), metricRequestTotal, "client", "frontend", "server", "backend"))
	}
}
