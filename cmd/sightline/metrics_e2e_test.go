package main_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
)

// otelService is a service instrumented with the OpenTelemetry Go SDK, the
// way users instrument theirs, exporting to sightline over proto.
type otelService struct {
	mp *sdkmetric.MeterProvider
}

func newOTelService(t *testing.T, s *server, proto, instance string, opts ...any) *otelService {
	t.Helper()
	ctx := ctxT(t)
	var exp sdkmetric.Exporter
	var err error
	switch proto {
	case "grpc":
		o := []otlpmetricgrpc.Option{otlpmetricgrpc.WithEndpoint(s.grpcAddr), otlpmetricgrpc.WithInsecure(),
			otlpmetricgrpc.WithRetry(otlpmetricgrpc.RetryConfig{Enabled: false})}
		for _, x := range opts {
			o = append(o, x.(otlpmetricgrpc.Option))
		}
		exp, err = otlpmetricgrpc.New(ctx, o...)
	case "http":
		o := []otlpmetrichttp.Option{otlpmetrichttp.WithEndpoint(s.otlpHTTP), otlpmetrichttp.WithInsecure(),
			otlpmetrichttp.WithRetry(otlpmetrichttp.RetryConfig{Enabled: false})}
		for _, x := range opts {
			o = append(o, x.(otlpmetrichttp.Option))
		}
		exp, err = otlpmetrichttp.New(ctx, o...)
	}
	require.NoError(t, err)
	res := resource.NewSchemaless(
		attribute.String("service.name", "checkout"),
		attribute.String("service.namespace", "shop"),
		attribute.String("service.instance.id", instance),
		attribute.String("deployment.environment", "test"),
	)
	mp := sdkmetric.NewMeterProvider(
		sdkmetric.WithResource(res),
		// A long interval: the test exports with ForceFlush, whose error
		// tells whether sightline acknowledged the data.
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))),
		sdkmetric.WithView(sdkmetric.NewView(
			sdkmetric.Instrument{Name: "payment.latency"},
			sdkmetric.Stream{Aggregation: sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}},
		)),
	)
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	return &otelService{mp: mp}
}

func (o *otelService) flush(t *testing.T) error {
	t.Helper()
	return o.mp.ForceFlush(ctxT(t))
}

// sampledContext carries a sampled span, so the SDK attaches exemplars.
func sampledContext(traceHex, spanHex string) context.Context {
	tid, _ := trace.TraceIDFromHex(traceHex)
	sid, _ := trace.SpanIDFromHex(spanHex)
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	return trace.ContextWithSpanContext(context.Background(), sc)
}

// record records a fixed set of measurements of every instrument kind.
func (o *otelService) record(t *testing.T, traceHex, spanHex string) {
	t.Helper()
	m := o.mp.Meter("sightline.test")
	ctx := context.Background()

	requests, err := m.Int64Counter("http.server.requests", metric.WithDescription("Requests served."))
	require.NoError(t, err)
	requests.Add(ctx, 3, metric.WithAttributes(attribute.String("route", "/pay")))
	requests.Add(ctx, 4, metric.WithAttributes(attribute.String("route", "/pay")))

	inflight, err := m.Int64UpDownCounter("http.server.active_requests")
	require.NoError(t, err)
	inflight.Add(ctx, 5)
	inflight.Add(ctx, -2)

	depth, err := m.Float64Gauge("queue.depth", metric.WithUnit("By"))
	require.NoError(t, err)
	depth.Record(ctx, 42.5)

	dur, err := m.Float64Histogram("request.duration", metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(0.1, 0.5, 1))
	require.NoError(t, err)
	for _, v := range []float64{0.05, 0.3, 0.3} {
		dur.Record(ctx, v)
	}
	dur.Record(sampledContext(traceHex, spanHex), 2) // the slow one, with its trace

	lat, err := m.Int64Histogram("payment.latency", metric.WithUnit("ms"))
	require.NoError(t, err)
	for v := int64(1); v <= 100; v++ {
		lat.Record(ctx, v)
	}
}

func queryScalar(t *testing.T, api promv1.API, q string) float64 {
	t.Helper()
	v, warn, err := api.Query(ctxT(t), q, time.Now())
	require.NoError(t, err, q)
	require.Empty(t, warn, q)
	vec, ok := v.(model.Vector)
	require.True(t, ok, "%s: got %s", q, v.Type())
	require.Len(t, vec, 1, "%s: got %v", q, vec)
	return float64(vec[0].Value)
}

func TestOTLPMetricsEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir())
	api := s.prom()

	for i, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			instance := "checkout-" + proto
			traceHex := fmt.Sprintf("4bf92f3577b34da6a3ce929d0e0e47%02x", i)
			spanHex := fmt.Sprintf("00f067aa0ba902%02x", i)
			svc := newOTelService(t, s, proto, instance)
			svc.record(t, traceHex, spanHex)
			require.NoError(t, svc.flush(t))

			sel := fmt.Sprintf(`{job="shop/checkout", instance=%q}`, instance)
			f := func(q string, want float64) {
				t.Helper()
				require.InDelta(t, want, queryScalar(t, api, q), 1e-9, q)
			}
			// Monotonic sum: counter with _total.
			f(`http_server_requests_total`+sel[:len(sel)-1]+`, route="/pay"}`, 7)
			// Non-monotonic sum: a gauge, no _total.
			f(`http_server_active_requests`+sel, 3)
			// Gauge with its unit suffix.
			f(`queue_depth_bytes`+sel, 42.5)
			// Classic histogram: cumulative buckets, sum and count.
			f(`request_duration_seconds_bucket`+sel[:len(sel)-1]+`, le="0.1"}`, 1)
			f(`request_duration_seconds_bucket`+sel[:len(sel)-1]+`, le="0.5"}`, 3)
			f(`request_duration_seconds_bucket`+sel[:len(sel)-1]+`, le="1"}`, 3)
			f(`request_duration_seconds_bucket`+sel[:len(sel)-1]+`, le="+Inf"}`, 4)
			f(`request_duration_seconds_count`+sel, 4)
			f(`request_duration_seconds_sum`+sel, 2.65)
			// Exponential histogram, stored as a native histogram.
			f(`histogram_count(payment_latency_milliseconds`+sel+`)`, 100)
			f(`histogram_sum(payment_latency_milliseconds`+sel+`)`, 5050)
			p50 := queryScalar(t, api, `histogram_quantile(0.5, payment_latency_milliseconds`+sel+`)`)
			require.InEpsilon(t, 50, p50, 0.05, "p50 of 1..100 from the native histogram")
			p99 := queryScalar(t, api, `histogram_quantile(0.99, payment_latency_milliseconds`+sel+`)`)
			require.InEpsilon(t, 99, p99, 0.05, "p99 of 1..100 from the native histogram")
			// Resource attributes on target_info.
			f(`target_info{job="shop/checkout", instance=`+fmt.Sprintf("%q", instance)+`, deployment_environment="test"}`, 1)

			// The exemplar of the slow request carries its trace.
			ex, err := api.QueryExemplars(ctxT(t), `request_duration_seconds_bucket`+sel, time.Now().Add(-time.Hour), time.Now().Add(time.Minute))
			require.NoError(t, err)
			var found bool
			for _, r := range ex {
				for _, e := range r.Exemplars {
					if string(e.Labels["trace_id"]) == traceHex {
						require.Equal(t, spanHex, string(e.Labels["span_id"]))
						require.Equal(t, 2.0, float64(e.Value))
						found = true
					}
				}
			}
			require.True(t, found, "no exemplar with trace_id %s in %+v", traceHex, ex)

			// Metadata from the OTLP description and unit.
			md, err := api.Metadata(ctxT(t), "http_server_requests_total", "")
			require.NoError(t, err)
			require.Equal(t, []promv1.Metadata{{Type: "counter", Help: "Requests served.", Unit: ""}}, md["http_server_requests_total"])
		})
	}

	// The other Prometheus API endpoints Grafana uses answer in their shapes.
	ctx := ctxT(t)
	names, _, err := api.LabelNames(ctx, nil, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Contains(t, names, "job")
	vals, _, err := api.LabelValues(ctx, "instance", []string{`http_server_requests_total`}, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.ElementsMatch(t, model.LabelValues{"checkout-grpc", "checkout-http"}, vals)
	series, _, err := api.Series(ctx, []string{`queue_depth_bytes`}, time.Now().Add(-time.Hour), time.Now())
	require.NoError(t, err)
	require.Len(t, series, 2)
	r, _, err := api.QueryRange(ctx, `sum(http_server_requests_total)`, promv1.Range{Start: time.Now().Add(-time.Minute), End: time.Now(), Step: 15 * time.Second})
	require.NoError(t, err)
	m := r.(model.Matrix)
	require.Len(t, m, 1)
	require.Equal(t, model.SampleValue(14), m[0].Values[len(m[0].Values)-1].Value)
	bi, err := api.Buildinfo(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, bi.Version)

	// MetricsQL: WITH templates and a MetricsQL-only function.
	require.InDelta(t, 14, queryScalar(t, api, `WITH (reqs = http_server_requests_total{job="shop/checkout"}) sum(reqs)`), 1e-9)
	require.InDelta(t, 7, queryScalar(t, api, `median(http_server_requests_total)`), 1e-9)
	_, _, err = api.Query(ctx, `rollup_candlestick(http_server_requests_total)`, time.Now())
	require.ErrorContains(t, err, `unsupported MetricsQL function "rollup_candlestick"`)
}
