package metricsexporter

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/model/timestamp"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/record"
	"github.com/prometheus/prometheus/tsdb/wlog"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

func newTestExporter(t testing.TB) (*metricsExporter, *tsdbstore.Store) {
	t.Helper()
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	return newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg)), store
}

func TestConfigFromYAML(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)
	f := func(id component.ID, want *Config) {
		t.Helper()
		cfg := &Config{AddMetricSuffixes: true}
		sub, err := cm.Sub(id.String())
		require.NoError(t, err)
		require.NoError(t, sub.Unmarshal(cfg))
		require.NoError(t, xconfmap.Validate(cfg))
		require.Equal(t, want, cfg)
	}
	f(component.NewID(Type), &Config{AddMetricSuffixes: true})
	f(component.NewIDWithName(Type, "custom"), &Config{
		PromoteResourceAttributes:         []string{"deployment.environment", "k8s.namespace.name"},
		KeepIdentifyingResourceAttributes: true,
	})
	require.Error(t, (&Config{PromoteResourceAttributes: []string{""}}).Validate())
}

func sumRequest(name string, ts time.Time, v float64) pmetric.Metrics {
	md := pmetric.NewMetrics()
	rm := md.ResourceMetrics().AppendEmpty()
	rm.Resource().Attributes().PutStr("service.name", "svc")
	m := rm.ScopeMetrics().AppendEmpty().Metrics().AppendEmpty()
	m.SetName(name)
	m.SetUnit("s")
	sum := m.SetEmptySum()
	sum.SetIsMonotonic(true)
	sum.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := sum.DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
	p.SetDoubleValue(v)
	return md
}

// selectValues returns the values of metric name of a tenant.
func selectValues(t *testing.T, store *tsdbstore.Store, tenantID, name string) []float64 {
	t.Helper()
	var vs []float64
	for _, s := range storetest.Samples(t, store, tenantID, name) {
		vs = append(vs, s.V)
	}
	return vs
}

func TestPushRoutesByTenant(t *testing.T) {
	e, store := newTestExporter(t)
	ctx := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"X-Scope-OrgID": {"team-a"}})})
	require.NoError(t, e.push(ctx, sumRequest("work", time.Now(), 3)))
	require.Equal(t, []float64{3}, selectValues(t, store, "team-a", "work_seconds_total"))
	require.Empty(t, selectValues(t, store, tenant.Default, "work_seconds_total"))

	bad := client.NewContext(context.Background(), client.Info{Metadata: client.NewMetadata(map[string][]string{"X-Scope-OrgID": {"../x"}})})
	err := e.push(bad, sumRequest("work", time.Now(), 3))
	require.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestPushPartialSuccess(t *testing.T) {
	e, store := newTestExporter(t)
	now := time.Now()
	md := sumRequest("ok", now, 1)
	sumRequest("future", now.Add(time.Hour), 1).ResourceMetrics().MoveAndAppendTo(md.ResourceMetrics())
	err := e.push(context.Background(), md)
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, err.Error(), "1 samples rejected (out_of_bounds: 1)")
	require.Equal(t, []float64{1}, selectValues(t, store, tenant.Default, "ok_seconds_total"))

	// Translation errors are reported too: a sum without temporality.
	md = sumRequest("no_temporality", now, 1)
	md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().SetAggregationTemporality(pmetric.AggregationTemporalityUnspecified)
	err = e.push(context.Background(), md)
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	require.Contains(t, err.Error(), "no_temporality")
}

// FuzzPush feeds arbitrary OTLP protobuf to the exporter: whatever decodes
// is either stored or refused as bad input, never a crash or a store error.
func FuzzPush(f *testing.F) {
	seed, err := (&pmetric.ProtoMarshaler{}).MarshalMetrics(sumRequest("seed", time.Now(), 1))
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte{})
	e, _ := newTestExporter(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(b)
		if err != nil {
			return
		}
		if err := e.push(context.Background(), md); err != nil {
			require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
		}
	})
}

// An exponential histogram whose buckets do not add up to its count is
// refused on its own (InvalidArgument, counted as invalid); the gauge in
// the same request is stored (issue 12: the whole request failed with 503,
// which SDKs retry forever).
func TestBadHistogramKeepsItsNeighbours(t *testing.T) {
	e, store := newTestExporter(t)
	now := time.Now()
	md := sumRequest("ok", now, 1)
	m := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().AppendEmpty()
	m.SetName("bad_latency")
	h := m.SetEmptyExponentialHistogram()
	h.SetAggregationTemporality(pmetric.AggregationTemporalityCumulative)
	p := h.DataPoints().AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(now))
	p.SetScale(0)
	p.SetCount(1) // the buckets hold 10
	p.SetSum(5)
	p.Positive().BucketCounts().FromRaw([]uint64{4, 6})
	err := e.push(context.Background(), md)
	require.Equal(t, codes.InvalidArgument, status.Code(err), err)
	require.Contains(t, err.Error(), "invalid: 1")
	require.Equal(t, []float64{1}, selectValues(t, store, tenant.Default, "ok_seconds_total"))
}

// seriesRefs returns the series cache of tenant id's TSDB.
func seriesRefs(t *testing.T, store *tsdbstore.Store, id string) *tsdbstore.SeriesRefs {
	t.Helper()
	app := store.Appender(tenant.With(context.Background(), id))
	defer func() { require.NoError(t, app.Rollback()) }()
	return app.(tsdbstore.Appender).SeriesRefs()
}

// Requests share the tenant's series cache, and a cached reference of a
// series the head has since dropped still puts its samples, and its
// metadata, on that series.
func TestSeriesCacheAcrossRequests(t *testing.T) {
	e, store := newTestExporter(t)
	ctx := storetest.CollectorContext("team-a")
	now := time.Now()
	require.NoError(t, e.push(ctx, sumRequest("work", now.Add(-50*time.Minute), 1)))
	require.NoError(t, e.push(ctx, sumRequest("work", now.Add(-49*time.Minute), 2)))
	require.Equal(t, []float64{1, 2}, selectValues(t, store, "team-a", "work_seconds_total"))

	refs := seriesRefs(t, store, "team-a")
	first, ok := cachedPoint(e, refs, sumRequest("work", now, 0))
	require.True(t, ok, "the requests cached the series")
	// And that the resource has no target_info.
	require.Equal(t, 2, refs.Len())
	require.Zero(t, seriesRefs(t, store, "team-b").Len(), "each tenant has its own cache")

	// The head drops the series (no samples left after truncation): its
	// reference is stale.
	store.Existing("team-a", func(db *tsdb.DB) {
		require.NoError(t, db.Head().Truncate(timestamp.FromTime(now.Add(-40*time.Minute))))
		require.Zero(t, db.Head().NumSeries())
	})
	require.NoError(t, e.push(ctx, sumRequest("work", now, 3)))
	require.Equal(t, []float64{3}, selectValues(t, store, "team-a", "work_seconds_total"))
	again, ok := cachedPoint(e, refs, sumRequest("work", now, 0))
	require.True(t, ok)
	require.NotEqual(t, first.Ref, again.Ref, "the series was created again under a new reference")
	require.Equal(t, map[string][]metadata.Metadata{"work_seconds_total": {first.Meta.Metadata}}, store.Metadata("team-a", "work_seconds_total", 0, 0))
	require.Equal(t, model.MetricTypeCounter, first.Meta.Type)
}

// The metadata of OTLP series is served from the store's index and kept
// out of the TSDB's WAL, where nothing reads it back and where a WAL
// checkpoint would hold every series' metadata in memory at once.
func TestMetadataStaysOutOfTheWAL(t *testing.T) {
	e, store := newTestExporter(t)
	ctx := storetest.CollectorContext("team-a")
	now := time.Now()
	require.NoError(t, e.push(ctx, sumRequest("work", now.Add(-time.Minute), 1)))
	require.NoError(t, e.push(ctx, sumRequest("work", now, 2)))
	require.Equal(t, model.MetricTypeCounter, store.Metadata("team-a", "work_seconds_total", 0, 0)["work_seconds_total"][0].Type)

	count := map[record.Type]int{}
	store.Existing("team-a", func(db *tsdb.DB) {
		r, err := wlog.NewSegmentsReader(filepath.Join(db.Dir(), "wal"))
		require.NoError(t, err)
		defer r.Close()
		wr := wlog.NewReader(r)
		var dec record.Decoder
		for wr.Next() {
			count[dec.Type(wr.Record())]++
		}
		require.NoError(t, wr.Err())
	})
	require.Positive(t, count[record.Series], "no series in the WAL: nothing read")
	require.Positive(t, count[record.Samples])
	require.Zero(t, count[record.Metadata], "metadata records in the WAL")
}

// cachedPoint is the cache's entry of the series of the first data point
// of md, a gauge or sum, which the fast path learnt.
func cachedPoint(e *metricsExporter, refs *tsdbstore.SeriesRefs, md pmetric.Metrics) (tsdbstore.SeriesEntry, bool) {
	rm := md.ResourceMetrics().At(0)
	sm := rm.ScopeMetrics().At(0)
	m := sm.Metrics().At(0)
	r := &fastRun{}
	prefix := [3]tsdbstore.ID{e.fast.resourceID(r, rm), e.fast.scopeID(r, sm), e.fast.metricID(r, m)}
	entries, _, ok := refs.GetGroup(nil, e.fast.pointID(r, m, 0, prefix), make([]tsdbstore.Mark, 1), nil, nil)
	if !ok {
		return tsdbstore.SeriesEntry{}, false
	}
	return entries[0], true
}

// OTLP timestamps are nanoseconds and the TSDB's milliseconds: two points of
// a series within one millisecond become one sample. The same value again
// is taken as a repeat, as Prometheus takes it; a different value is
// refused as a duplicate, counted and reported, whether the points come in
// one request or in two.
func TestPointsInOneMillisecond(t *testing.T) {
	reg := prometheus.NewRegistry()
	store := storetest.Metrics(t, reg, nil)
	e := newExporter(&Config{AddMetricSuffixes: true}, store, slog.New(slog.DiscardHandler), newMetrics(reg))
	ts := time.Now().Truncate(time.Millisecond)
	md := sumRequest("work", ts, 1)
	points := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0).Sum().DataPoints()
	for _, p := range []struct {
		offset time.Duration
		v      float64
	}{{100 * time.Microsecond, 1}, {200 * time.Microsecond, 2}} {
		dp := points.AppendEmpty()
		dp.SetTimestamp(pcommon.NewTimestampFromTime(ts.Add(p.offset)))
		dp.SetDoubleValue(p.v)
	}
	err := e.push(context.Background(), md)
	require.Equal(t, codes.InvalidArgument, status.Code(err), err)
	require.Contains(t, err.Error(), "1 samples rejected (duplicate: 1)")

	err = e.push(context.Background(), sumRequest("work", ts.Add(300*time.Microsecond), 3))
	require.Equal(t, codes.InvalidArgument, status.Code(err), err)
	require.Contains(t, err.Error(), "1 samples rejected (duplicate: 1)")
	require.NoError(t, e.push(context.Background(), sumRequest("work", ts.Add(400*time.Microsecond), 1)))
	require.Equal(t, []float64{1}, selectValues(t, store, tenant.Default, "work_seconds_total"))
	require.Equal(t, 2.0, storetest.Counter(t, reg, "sightline_metrics_samples_rejected_total", "reason", "duplicate"))
}

// A series that the fast path holds in a data point's group is not also
// held by its labels, where the translator put it when it first appended
// it: the cache keeps one entry per series.
func TestGroupedSeriesCachedOnce(t *testing.T) {
	e, store := newTestExporter(t)
	ctx := storetest.CollectorContext("team-a")
	now := time.Now()
	request := func(ts time.Time, v float64) pmetric.Metrics {
		md := pmetric.NewMetrics()
		rm := md.ResourceMetrics().AppendEmpty()
		rm.Resource().Attributes().PutStr("service.name", "svc")
		ms := rm.ScopeMetrics().AppendEmpty().Metrics()
		for m := range 5 {
			g := ms.AppendEmpty()
			g.SetName(fmt.Sprintf("g%d", m))
			points := g.SetEmptyGauge().DataPoints()
			for k := range 4 {
				p := points.AppendEmpty()
				p.Attributes().PutInt("k", int64(k))
				p.SetTimestamp(pcommon.NewTimestampFromTime(ts))
				p.SetDoubleValue(v)
			}
		}
		return md
	}
	for i := range 3 {
		require.NoError(t, e.push(ctx, request(now.Add(time.Duration(i-3)*time.Minute), float64(i))))
	}
	refs := seriesRefs(t, store, "team-a")
	byLabels := 0
	for m := range 5 {
		name := fmt.Sprintf("g%d", m)
		require.Equal(t, []float64{0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2}, selectValues(t, store, "team-a", name))
		for k := range 4 {
			ls := labels.FromStrings("__name__", name, "job", "svc", "k", fmt.Sprint(k))
			if _, _, ok := refs.Get(ls.Hash(), ls, tsdbstore.Mark{}); ok {
				byLabels++
			}
		}
	}
	// The fast path takes every metric, a group per point, once it
	// knows the resource's target_info (here: that it has none).
	require.Zero(t, byLabels, "series held by their labels")
	require.Equal(t, 5*4+1, refs.Len(), "one entry per series, and the resource's target_info")
}
