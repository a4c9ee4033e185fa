package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// tempoMetrics is tempopb.QueryRangeResponse (and QueryInstantResponse)
// as Grafana reads it: the Tempo datasource's backend decodes the JSON with
// jsonpb (grafana-tempo-datasource pkg/tempo/traceql_query.go) and reads
// each series' labels, samples (timestampMs, value) and exemplars (the
// trace:id label) in pkg/tempo/traceql/metrics.go and exemplars.go.
type tempoMetrics struct {
	Series []struct {
		Labels  []tempoKV `json:"labels"`
		Samples []struct {
			TimestampMs string  `json:"timestampMs"`
			Value       float64 `json:"value"`
		} `json:"samples"`
		Exemplars []struct {
			Labels      []tempoKV `json:"labels"`
			Value       float64   `json:"value"`
			TimestampMs string    `json:"timestampMs"`
		} `json:"exemplars"`
		Value *float64 `json:"value"` // instant queries
	} `json:"series"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

type tempoKV struct {
	Key   string `json:"key"`
	Value struct {
		StringValue *string  `json:"stringValue"`
		DoubleValue *float64 `json:"doubleValue"`
	} `json:"value"`
}

// name prints labels as Grafana names a frame: the value alone for one
// label, {k=v, ...} sorted for more (pkg/tempo/traceql/metrics.go).
func seriesName(ls []tempoKV) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		v := "nil"
		switch {
		case l.Value.StringValue != nil:
			v = *l.Value.StringValue
		case l.Value.DoubleValue != nil:
			v = strconv.FormatFloat(*l.Value.DoubleValue, 'f', -1, 64)
		}
		parts = append(parts, l.Key+"="+v)
	}
	slices.Sort(parts)
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestTraceQLMetricsEndToEnd sends spans with the OTel SDK at known times
// and asks for TraceQL metrics as Grafana does, checking the values
// against the spans sent.
//
// Spans: frontend serves "GET /cart" (root, server) and calls checkout
// ("POST /checkout", server, a child). Over five one-minute steps after
// base: 3 traces 30 s in (roots 3 ms), none, 5 traces 150 s in (roots
// 20 ms; 2 of them fail: root and child in error), none, none.
func TestTraceQLMetricsEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir())
	frontend := newTraceService(t, s, "grpc", "frontend")
	checkout := newTraceService(t, s, "http", "checkout")
	base := time.Now().Add(-15 * time.Minute).Truncate(5 * time.Minute) // one compare step
	send := func(at time.Time, dur time.Duration, fail bool) {
		ctx, root := frontend.Tracer("shop").Start(context.Background(), "GET /cart",
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at),
			trace.WithAttributes(attribute.String("http.request.method", "GET")))
		_, child := checkout.Tracer("shop").Start(ctx, "POST /checkout",
			trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(at))
		if fail {
			root.SetStatus(codes.Error, "boom")
			child.SetStatus(codes.Error, "boom")
		}
		child.End(trace.WithTimestamp(at.Add(dur / 3)))
		root.End(trace.WithTimestamp(at.Add(dur)))
	}
	for i := range 3 {
		send(base.Add(30*time.Second+time.Duration(i)*time.Millisecond), 3*time.Millisecond, false)
	}
	for i := range 5 {
		send(base.Add(150*time.Second+time.Duration(i)*time.Millisecond), 20*time.Millisecond, i < 2)
	}
	for _, tp := range []*sdktrace.TracerProvider{frontend, checkout} {
		require.NoError(t, tp.ForceFlush(ctxT(t)))
	}

	start, end := base.Unix(), base.Add(5*time.Minute).Unix()
	// metrics sends a query as the Tempo datasource's backend does
	// (createMetricsQuery in pkg/tempo/traceql_query.go): start and end in
	// unix seconds from the panel's range, step when the query has one,
	// exemplars, Accept: application/json.
	metrics := func(path, query, step string) (int, string, tempoMetrics) {
		t.Helper()
		params := []string{"q", query, "start", strconv.FormatInt(start, 10), "end", strconv.FormatInt(end, 10), "exemplars", "100"}
		if step != "" {
			params = append(params, "step", step)
		}
		code, body := getBody(t, s.url(path+"?"+q(params...)), "application/json")
		var m tempoMetrics
		if code == http.StatusOK {
			require.NoError(t, json.Unmarshal(body, &m), string(body))
		}
		return code, string(body), m
	}
	// rangeQuery returns each series' values at the five step ends (NaN
	// where it has no sample).
	rangeQuery := func(query string) map[string][]float64 {
		t.Helper()
		code, body, m := metrics("/api/metrics/query_range", query, "60s")
		require.Equal(t, http.StatusOK, code, body)
		out := map[string][]float64{}
		for _, sr := range m.Series {
			vals := []float64{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()}
			for _, p := range sr.Samples {
				ms, err := strconv.ParseInt(p.TimestampMs, 10, 64)
				require.NoError(t, err)
				i := int(time.UnixMilli(ms).Sub(base)/time.Minute) - 1
				require.Equal(t, base.Add(time.Duration(i+1)*time.Minute).UnixMilli(), ms, "samples at step ends")
				vals[i] = p.Value
			}
			for _, e := range sr.Exemplars {
				require.Equal(t, "trace:id", e.Labels[0].Key)
				require.Len(t, *e.Labels[0].Value.StringValue, 32, "Grafana links exemplars by trace:id")
			}
			out[seriesName(sr.Labels)] = vals
		}
		return out
	}
	nan := math.NaN()
	requireValues := func(want map[string][]float64, got map[string][]float64) {
		t.Helper()
		require.Len(t, got, len(want), "%v", got)
		for k, w := range want {
			require.Contains(t, got, k)
			for i := range w {
				if math.IsNaN(w[i]) {
					require.True(t, math.IsNaN(got[k][i]), "%s: %v", k, got[k])
				} else {
					require.InDelta(t, w[i], got[k][i], 1e-9, "%s: %v", k, got[k])
				}
			}
		}
	}

	// Explore, Tempo "Metrics" query type, a query typed by hand.
	timed := time.Now()
	got := rangeQuery(`{} | rate() by (resource.service.name)`)
	t.Logf("{} | rate() by (resource.service.name) over %d spans: %s", 16, time.Since(timed))
	requireValues(map[string][]float64{
		"{resource.service.name=checkout}": {3.0 / 60, 0, 5.0 / 60, 0, 0},
		"{resource.service.name=frontend}": {3.0 / 60, 0, 5.0 / 60, 0, 0},
	}, got)
	requireValues(map[string][]float64{"{__name__=count_over_time}": {6, 0, 10, 0, 0}}, rangeQuery(`{} | count_over_time()`))
	requireValues(map[string][]float64{
		"{name=GET /cart}": {0.003, nan, 0.020, nan, nan},
	}, rangeQuery(`{ kind = server && resource.service.name = "frontend" } | max_over_time(duration) by (name)`))

	// Traces Drilldown (grafana/traces-drilldown), its queries with the
	// "Root spans" signal (nestedSetParent<0) and no filters (true):
	// the RED panels (src/components/Explore/queries/generateMetricsQuery.ts)...
	requireValues(map[string][]float64{"{__name__=rate}": {3.0 / 60, 0, 3.0 / 60, 0, 0}},
		rangeQuery(`{nestedSetParent<0 && true && status!=error} | rate() `))
	requireValues(map[string][]float64{"{__name__=rate}": {0, 0, 2.0 / 60, 0, 0}},
		rangeQuery(`{nestedSetParent<0 && true && status=error} | rate() `))
	requireValues(map[string][]float64{"{resource.service.name=frontend}": {3.0 / 60, 0, 5.0 / 60, 0, 0}},
		rangeQuery(`{nestedSetParent<0 && true && resource.service.name != nil} | rate() by(resource.service.name)`))
	// 3 ms is in (2^21, 2^22] ns, 20 ms in (2^24, 2^25]: the p90 of a step
	// is the top of its bucket.
	requireValues(map[string][]float64{"{p=0.9}": {float64(1<<22) / 1e9, nan, float64(1<<25) / 1e9, nan, nan}},
		rangeQuery(`{nestedSetParent<0 && true} | quantile_over_time(duration, 0.9) `))
	// ...the duration heatmap (src/components/Explore/queries/histogram.ts)...
	requireValues(map[string][]float64{
		"{__bucket=" + strconv.FormatFloat(float64(1<<22)/1e9, 'f', -1, 64) + "}": {3, 0, 0, 0, 0},
		"{__bucket=" + strconv.FormatFloat(float64(1<<25)/1e9, 'f', -1, 64) + "}": {0, 0, 5, 0, 0},
	}, rangeQuery(`{nestedSetParent<0 && true} | histogram_over_time(duration) with(sample=true)`))
	// ...and the comparison tab (Tabs/Comparison/AttributesComparisonScene.tsx
	// with comparisonQuery.ts), whose step is the whole range.
	code, body, m := metrics("/api/metrics/query_range", `{nestedSetParent<0 && true} | compare({status = error}, 10)`, "300s")
	require.Equal(t, http.StatusOK, code, body)
	compare := map[string]float64{}
	for _, sr := range m.Series {
		require.Len(t, sr.Samples, 1)
		compare[seriesName(sr.Labels)] = sr.Samples[0].Value
	}
	require.Equal(t, 2.0, compare["{__meta_type=selection, status=error}"], compare)
	require.Equal(t, 6.0, compare["{__meta_type=baseline, status=unset}"], compare)
	require.Equal(t, 6.0, compare["{__meta_type=baseline, resource.service.name=frontend}"], compare)
	require.Equal(t, 2.0, compare["{__meta_type=selection_total, name=nil}"], compare)

	// Instant queries (metricsQueryType "instant"): /api/metrics/query.
	code, body, m = metrics("/api/metrics/query", `{} | count_over_time() by (resource.service.name)`, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, m.Series, 2)
	for _, sr := range m.Series {
		require.NotNil(t, sr.Value)
		require.Equal(t, 8.0, *sr.Value, seriesName(sr.Labels))
	}

	// Protobuf, for clients that ask for it (Tempo's Accept test).
	code, pb := getBody(t, s.url("/api/metrics/query_range?"+q("q", `{} | count_over_time()`, "start", fmt.Sprint(start), "end", fmt.Sprint(end), "step", "60")), "application/protobuf")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, []float64{6, 0, 10, 0, 0}, protoSampleValues(t, pb))

	// Errors, as Tempo answers them: 400 with the message as text.
	code, body, _ = metrics("/api/metrics/query_range", `{ .a = } | rate()`, "60s")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "parse error at line 1")
	code, body, _ = metrics("/api/metrics/query_range", `{ status = error }`, "60s")
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "not a metrics query", body)
	code, body, _ = metrics("/api/metrics/query_range", `{} | rate()`, "-1s")
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "step must be positive")
}

// protoSampleValues decodes a protobuf QueryRangeResponse of one series
// and returns its sample values (proto3 leaves zeros out).
func protoSampleValues(t *testing.T, b []byte) []float64 {
	t.Helper()
	series := protoField(t, b, 1)
	require.Len(t, series, 1)
	var out []float64
	for _, sample := range protoField(t, series[0], 2) {
		v := 0.0
		if f := protoField(t, sample, 1); len(f) > 0 {
			bits, _ := protowire.ConsumeFixed64(f[0])
			v = math.Float64frombits(bits)
		}
		out = append(out, v)
	}
	return out
}
