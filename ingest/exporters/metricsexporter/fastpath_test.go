package metricsexporter

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// otlpWorkload makes OTLP metric requests of a few resources that export
// again and again, with what translation has to get right: attributes
// that sanitise to the same label, promoted job and instance, int
// attributes, gauges of ints and doubles, monotonic and other sums, delta
// sums (which the translator refuses), histograms with and without a sum
// or with fewer bounds than counts, exponential histograms (of changing
// scales and bucket layouts, some refused by the translator), summaries,
// points without a value, exemplars, repeated points, points out of order
// and data points of one resource at different times (minutes apart: more
// than one target_info sample).
type otlpWorkload struct {
	rng  *rand.Rand
	base time.Time
	tick int
}

var attrSets = []map[string]any{
	{"route": "/a", "code": "200"},
	{"route": "/b", "http.method": "GET"},
	{"a.b": "1", "a_b": "2"},
	{},
	{"code": int64(500), "ok": true},
}

func (w *otlpWorkload) request() pmetric.Metrics {
	md := pmetric.NewMetrics()
	w.tick++
	for _, res := range w.rng.Perm(6)[:1+w.rng.IntN(4)] {
		rm := md.ResourceMetrics().AppendEmpty()
		ra := rm.Resource().Attributes()
		ra.PutStr("service.name", fmt.Sprintf("svc-%d", res%3))
		ra.PutStr("service.instance.id", fmt.Sprintf("inst-%d", res))
		if res%2 == 0 {
			ra.PutStr("service.namespace", "ns")
		}
		ra.PutInt("process.pid", int64(100+res))
		for s := range 1 + res%2 {
			sm := rm.ScopeMetrics().AppendEmpty()
			sm.Scope().SetName(fmt.Sprintf("lib-%d", s))
			sm.Scope().SetVersion("1.0")
			for k := range 9 {
				if w.rng.IntN(4) == 0 {
					continue // not every metric in every export
				}
				w.metric(sm.Metrics().AppendEmpty(), fmt.Sprintf("m%d.s%d", k, s), k)
			}
		}
	}
	return md
}

func (w *otlpWorkload) metric(m pmetric.Metric, name string, kind int) {
	m.SetName(name)
	m.SetUnit([]string{"s", "By", "{request}", "1"}[kind%4])
	m.SetDescription("about " + name)
	var points int
	switch kind {
	case 0, 1:
		m.SetEmptyGauge()
		points = 1 + w.rng.IntN(3)
	case 2, 3, 4:
		s := m.SetEmptySum()
		s.SetIsMonotonic(kind != 3)
		s.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		if kind == 4 && w.rng.IntN(10) == 0 {
			s.SetAggregationTemporality(pmetric.AggregationTemporalityDelta)
		}
		points = len(attrSets)
	case 5, 6:
		m.SetEmptyHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		points = 2
	case 7:
		m.SetEmptyExponentialHistogram().SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
		points = 2
	case 8:
		m.SetEmptySummary()
		points = 1
	}
	for x := range points {
		if w.rng.IntN(15) == 0 {
			continue
		}
		ts := w.base.Add(time.Duration(w.tick)*10*time.Second + time.Duration(w.rng.IntN(3))*time.Millisecond)
		if w.rng.IntN(40) == 0 {
			ts = ts.Add(-time.Minute) // out of order
		}
		if w.rng.IntN(100) == 0 {
			// Out of order too, and target_info at every half
			// lookback delta from here.
			ts = ts.Add(-7 * time.Minute)
		}
		attrs := attrSets[(x+kind)%len(attrSets)]
		flags := pmetric.DefaultDataPointFlags
		if w.rng.IntN(30) == 0 {
			flags = flags.WithNoRecordedValue(true)
		}
		v := float64(w.tick*10 + w.rng.IntN(5))
		var ex pmetric.ExemplarSlice
		switch m.Type() {
		case pmetric.MetricTypeGauge, pmetric.MetricTypeSum:
			p := numberPoints(m).AppendEmpty()
			putAttrs(p.Attributes(), attrs)
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.SetFlags(flags)
			if kind == 0 {
				p.SetIntValue(int64(v))
			} else {
				p.SetDoubleValue(v / 3)
			}
			ex = p.Exemplars()
			if w.rng.IntN(30) == 0 { // the same point again, maybe another value
				r := numberPoints(m).AppendEmpty()
				p.CopyTo(r)
				if w.rng.IntN(2) == 0 {
					r.SetDoubleValue(v + 1)
				}
			}
		case pmetric.MetricTypeHistogram:
			p := m.Histogram().DataPoints().AppendEmpty()
			putAttrs(p.Attributes(), attrs)
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.SetFlags(flags)
			p.ExplicitBounds().FromRaw([]float64{0.1, 1, 10})
			c := uint64(w.tick)
			p.BucketCounts().FromRaw([]uint64{c, 1, 2, 3})
			if kind == 6 && x == 1 {
				p.BucketCounts().FromRaw([]uint64{c, 1, 2, 3, 4}) // more counts than bounds+1
			}
			p.SetCount(c + 6)
			if kind == 5 {
				p.SetSum(v)
			}
			ex = p.Exemplars()
		case pmetric.MetricTypeExponentialHistogram:
			p := m.ExponentialHistogram().DataPoints().AppendEmpty()
			if w.rng.IntN(2) == 0 {
				randomExpPoint(w.rng, p) // a layout, scale and count of its own
			} else {
				p.SetScale(2)
				p.Positive().BucketCounts().FromRaw([]uint64{1, uint64(w.tick)})
				p.SetCount(1 + uint64(w.tick))
				p.SetSum(v)
				p.SetFlags(flags)
			}
			putAttrs(p.Attributes(), attrs)
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			ex = p.Exemplars()
		case pmetric.MetricTypeSummary:
			p := m.Summary().DataPoints().AppendEmpty()
			putAttrs(p.Attributes(), attrs)
			p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			p.SetCount(uint64(w.tick))
			p.SetSum(v)
			q := p.QuantileValues().AppendEmpty()
			q.SetQuantile(0.5)
			q.SetValue(v / 2)
		}
		if ex != (pmetric.ExemplarSlice{}) && w.rng.IntN(12) == 0 {
			e := ex.AppendEmpty()
			e.SetTimestamp(pcommon.NewTimestampFromTime(ts))
			e.SetDoubleValue(0.5)
			e.SetTraceID(pcommon.TraceID{1, 2, 3, byte(w.tick)})
		}
	}
}

func putAttrs(attrs pcommon.Map, from map[string]any) {
	if err := attrs.FromRaw(from); err != nil {
		panic(err)
	}
}

// TestFastPathLikeTranslator pushes the same requests to an exporter with
// the fast path and to one with only Prometheus' translator, each with its
// own store: the answers, and at the end every series, sample, exemplar
// and metadata entry, must be the same, and the fast path must have taken
// most of the points.
func TestFastPathLikeTranslator(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	ours := newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg))
	refStore := storetest.Metrics(t, prometheus.NewRegistry(), nil)
	ref := newExporter(&Config{AddMetricSuffixes: true}, refStore, slog.New(slog.DiscardHandler), newMetrics(prometheus.NewRegistry()))
	ref.fast = nil

	example := regexp.MustCompile(`, e\.g\. .*`) // which refused sample is named depends on the order
	errs := 0
	for seed := range uint64(3) {
		w := &otlpWorkload{rng: rand.New(rand.NewPCG(seed, 2)), base: time.Now().Add(-time.Hour)}
		for i := range 150 {
			md := w.request()
			theirs := pmetric.NewMetrics()
			md.CopyTo(theirs)
			ctx := storetest.CollectorContext([]string{tenant.Default, "team-b"}[i%2])
			a, b := ours.push(ctx, md), ref.push(ctx, theirs)
			if b == nil {
				require.NoError(t, a, "seed %d request %d", seed, i)
				continue
			}
			errs++
			require.Error(t, a, "seed %d request %d: %v", seed, i, b)
			require.Equal(t, status.Code(b), status.Code(a))
			require.Equal(t, example.ReplaceAllString(b.Error(), ""), example.ReplaceAllString(a.Error(), ""), "seed %d request %d", seed, i)
		}
	}
	require.Greater(t, errs, 30, "the workload has refusals")
	for _, id := range []string{tenant.Default, "team-b"} {
		got, want := storetest.MetricsDump(t, store, id), storetest.MetricsDump(t, refStore, id)
		if got != want {
			t.Errorf("tenant %q: stores differ:\n%s", id, storetest.FirstDifference(want, got))
		}
		require.Equal(t, refStore.Metadata(id, "", 0, 0), store.Metadata(id, "", 0, 0))
	}
	received := storetest.Counter(t, reg, "sightline_otlp_metric_points_received_total")
	fast := storetest.Counter(t, reg, "sightline_otlp_metric_points_untranslated_total")
	t.Logf("%.0f of %.0f points appended without the translator", fast, received)
	require.Greater(t, fast, received/3)
}

// histogramRequest is a resource's export at ts of a gauge and of a
// histogram with three data points, whose series the fast path learns.
func histogramRequest(ts time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	ms := rm.ScopeMetrics().AppendEmpty().Metrics()
	// The translator keeps a resource's metric of fewest points, for
	// target_info.
	g := ms.AppendEmpty()
	g.SetName("up")
	p := g.SetEmptyGauge().DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	p.SetDoubleValue(1)
	h := ms.AppendEmpty()
	h.SetName("latency")
	h.SetUnit("s")
	h.SetDescription("How long requests took.")
	hist := h.SetEmptyHistogram()
	hist.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	for _, route := range []string{"/a", "/b", "/c"} {
		dp := hist.DataPoints().AppendEmpty()
		dp.Attributes().PutStr("route", route)
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		dp.ExplicitBounds().FromRaw([]float64{0.1, 1, 10})
		dp.BucketCounts().FromRaw([]uint64{1, 2, 3, 4})
		dp.SetCount(10)
		dp.SetSum(12)
	}
	return md
}

// learntSeries returns the series the fast path holds for the histogram
// of histogramRequest, six for each of its data points (four buckets,
// _sum and _count), and the cache they are in.
func learntSeries(t *testing.T, e *metricsExporter, app tsdbstore.Appender) []tsdbstore.SeriesEntry {
	md := histogramRequest(time.Now())
	rm := md.ResourceMetrics().At(0)
	sm := rm.ScopeMetrics().At(0)
	m := sm.Metrics().At(1)
	r := &fastRun{}
	prefix := [3]tsdbstore.ID{e.fast.resourceID(r, rm), e.fast.scopeID(r, sm), e.fast.metricID(r, m)}
	var all []tsdbstore.SeriesEntry
	for x := range pointCount(m) {
		entries, _, ok := app.SeriesRefs().GetGroup(nil, e.fast.pointID(r, m, x, prefix), make([]tsdbstore.Mark, 6), nil, nil)
		require.True(t, ok, "data point %d", x)
		all = append(all, entries...)
	}
	require.Len(t, all, 18)
	return all
}

// TestFastPathSeriesShareMetadata: the series cache holds a metric's
// metadata once, not once per series: the series of every data point of a
// histogram, as the fast path learnt and then appended them, share one.
func TestFastPathSeriesShareMetadata(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	e := newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg))
	ctx := storetest.CollectorContext(tenant.Default)
	start := time.Now().Add(-time.Minute)
	for i := range 3 { // translated and learnt, then appended from the cache
		require.NoError(t, e.push(ctx, histogramRequest(start.Add(time.Duration(i)*time.Second))))
	}
	require.Equal(t, 2.0*(3+1), storetest.Counter(t, reg, "sightline_otlp_metric_points_untranslated_total"),
		"the points of the last two requests (the histogram's three and the gauge) were appended from the cache")

	app := store.Appender(ctx).(tsdbstore.Appender)
	defer func() { require.NoError(t, app.Rollback()) }()
	entries := learntSeries(t, e, app)
	md0, family := entries[0].Meta.Data()
	require.Equal(t, "latency_seconds", family)
	require.Equal(t, metadata.Metadata{Type: model.MetricTypeHistogram, Unit: "seconds", Help: "How long requests took."}, md0)
	for _, en := range entries {
		require.NotZero(t, en.Ref, "%s is in the head", en.Labels)
		require.Same(t, entries[0].Meta, en.Meta)
	}
}

// TestFastPathLearnsTheHeadsSeries: what the fast path learns of a new
// metric is the series the translator has just put in the head, their
// references and the labels the head holds, not a copy of the labels
// (which the cache held for as long as the series lived, a second copy of
// every OTLP series' labels), and the translator's own entries for them
// are gone from the cache.
func TestFastPathLearnsTheHeadsSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	e := newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg))
	ctx := storetest.CollectorContext(tenant.Default)
	start := time.Now().Add(-time.Minute)
	require.NoError(t, e.push(ctx, histogramRequest(start))) // translated and learnt

	q, err := store.Querier(start.Add(-time.Hour).UnixMilli(), start.Add(time.Hour).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	head := map[string]labels.Labels{}
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, model.MetricNameLabel, "latency_seconds_.+"))
	for set.Next() {
		head[set.At().Labels().String()] = set.At().Labels()
	}
	require.NoError(t, set.Err())
	require.Len(t, head, 18)

	app := store.Appender(ctx).(tsdbstore.Appender)
	defer func() { require.NoError(t, app.Rollback()) }()
	for _, en := range learntSeries(t, e, app) {
		require.NotZero(t, en.Ref, "%s was learnt with its reference", en.Labels)
		had, ok := head[en.Labels.String()]
		require.True(t, ok, "%s is in the head", en.Labels)
		require.Equal(t, labelsData(had), labelsData(en.Labels), "%s: the cache holds the head's labels", en.Labels)
		_, _, ok = app.SeriesRefs().Get(en.Labels.Hash(), en.Labels, tsdbstore.Mark{})
		require.False(t, ok, "%s is held once, by its group", en.Labels)
	}
}

// labelsData is where the bytes of ls are: the first word of
// labels.Labels, the data of its string (or of its slice, built with
// slicelabels), so that two label sets held in one place are told from
// equal copies.
func labelsData(ls labels.Labels) unsafe.Pointer {
	return unsafe.Pointer(unsafe.StringData(*(*string)(unsafe.Pointer(&ls))))
}

// A resource whose earliest and latest points are in two metrics (the
// keepers) is appended without the translator from its second request on:
// the first teaches the fast path every series and its target_info. Its
// target_info samples are the translator's: one at each end of the span.
func TestFastPathTakesKeepersAndTargetInfo(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	e := newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg))
	start := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	request := func(i int) pmetric.Metrics {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		// In the same order every time: the resource's ID is made of
		// its attributes in their order.
		rm.Resource().Attributes().PutStr("service.name", "svc")
		rm.Resource().Attributes().PutStr("host.name", "h1")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for m, offset := range []time.Duration{0, 2 * time.Millisecond, time.Millisecond} {
			p := ms.AppendEmpty()
			p.SetName(fmt.Sprintf("g%d", m))
			dp := p.SetEmptyGauge().DataPoints().AppendEmpty()
			dp.SetTimestamp(pcommon.NewTimestampFromTime(start.Add(time.Duration(i)*time.Minute + offset)))
			dp.SetDoubleValue(float64(i))
		}
		return md
	}
	fast := func() float64 { return storetest.Counter(t, reg, "sightline_otlp_metric_points_untranslated_total") }
	for i := range 4 {
		before := fast()
		require.NoError(t, e.push(storetest.CollectorContext(tenant.Default), request(i)))
		want := []float64{0, 3, 3, 3}[i]
		require.Equal(t, want, fast()-before, "request %d", i)
	}
	var got []int64
	for _, s := range storetest.Samples(t, store, tenant.Default, "target_info") {
		got = append(got, s.T)
	}
	var want []int64
	for i := range 4 {
		t0 := start.Add(time.Duration(i) * time.Minute)
		want = append(want, t0.UnixMilli(), t0.Add(2*time.Millisecond).UnixMilli())
	}
	require.Equal(t, want, got)
}
