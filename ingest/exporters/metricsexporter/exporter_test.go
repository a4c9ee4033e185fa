package metricsexporter

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
