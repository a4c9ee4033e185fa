package main_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// newTraceService is an OTel SDK tracer provider of one service sending to
// s over proto ("grpc" or "http"). It exports on ForceFlush, whose error
// tells whether sightline acknowledged the spans.
func newTraceService(t *testing.T, s *server, proto, service string) *sdktrace.TracerProvider {
	t.Helper()
	ctx := ctxT(t)
	var exp sdktrace.SpanExporter
	var err error
	switch proto {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(s.grpcAddr), otlptracegrpc.WithInsecure(),
			otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
	case "http":
		exp, err = otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(s.otlpHTTP), otlptracehttp.WithInsecure(),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
	}
	require.NoError(t, err)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", service), attribute.String("service.namespace", "shop"))),
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)),
	)
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp
}

// checkoutTrace runs one request through three services: frontend (spans
// sent over gRPC) calls checkout, which calls payment (spans over HTTP);
// payment fails. Each service logs with log/slog through the OTel slog
// bridge (otelslog), which takes the trace and span IDs from the span's
// context. It returns the trace ID.
func checkoutTrace(t *testing.T, s *server) string {
	t.Helper()
	frontend := newTraceService(t, s, "grpc", "frontend")
	checkout := newTraceService(t, s, "grpc", "checkout")
	payment := newTraceService(t, s, "http", "payment")
	checkoutLogs := newLogService(t, s, "grpc", "checkout")
	paymentLogs := newLogService(t, s, "http", "payment")
	checkoutLog := otelslog.NewLogger("shop", otelslog.WithLoggerProvider(checkoutLogs))
	paymentLog := otelslog.NewLogger("shop", otelslog.WithLoggerProvider(paymentLogs))

	ctx, root := frontend.Tracer("shop").Start(context.Background(), "GET /checkout", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 500)))
	ctx, call := frontend.Tracer("shop").Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindClient))
	// The callee continues the trace from propagated context.
	ctx, srv := checkout.Tracer("shop").Start(ctx, "POST /checkout", trace.WithSpanKind(trace.SpanKindServer))
	checkoutLog.InfoContext(ctx, "checking out cart", "cart.id", "c-9")
	ctx2, payCall := checkout.Tracer("shop").Start(ctx, "charge card", trace.WithSpanKind(trace.SpanKindClient))
	ctx2, pay := payment.Tracer("shop").Start(ctx2, "charge", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("payment.method", "card"), attribute.Float64("amount", 12.5)))
	pay.AddEvent("fraud check", trace.WithAttributes(attribute.Bool("passed", true)))
	paymentLog.ErrorContext(ctx2, "payment failed: card declined", "amount", 12.5)
	pay.SetStatus(codes.Error, "card declined")
	pay.End()
	payCall.SetStatus(codes.Error, "payment failed")
	payCall.End()
	srv.End()
	call.End()
	root.End()

	for _, tp := range []*sdktrace.TracerProvider{frontend, checkout, payment} {
		require.NoError(t, tp.ForceFlush(ctxT(t)))
	}
	require.NoError(t, checkoutLogs.ForceFlush(ctxT(t)))
	require.NoError(t, paymentLogs.ForceFlush(ctxT(t)))
	return root.SpanContext().TraceID().String()
}

// tempoTrace reads a trace through the Tempo API as Grafana does: v1 as
// protobuf (Grafana's backend asks for tempopb.Trace, which is wire
// compatible with OTLP TracesData), v2 as JSON, whose IDs are base64 as
// Tempo's gogo/jsonpb writes them. It returns the trace as OTLP.
func tempoTrace(t *testing.T, s *server, path string) (int, ptrace.Traces) {
	t.Helper()
	v1 := strings.HasPrefix(path, "/api/traces/")
	accept := ""
	if v1 {
		accept = "application/protobuf"
	}
	code, body := getBody(t, s.url(path), accept)
	if code != http.StatusOK {
		return code, ptrace.NewTraces()
	}
	if v1 {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(body)
		require.NoError(t, err)
		return code, td
	}
	var env struct {
		Trace json.RawMessage `json:"trace"`
	}
	require.NoError(t, json.Unmarshal(body, &env), string(body))
	// OTLP JSON has hex IDs.
	otlp := base64ID.ReplaceAllFunc(env.Trace, func(m []byte) []byte {
		sub := base64ID.FindSubmatch(m)
		raw, err := base64.StdEncoding.DecodeString(string(sub[2]))
		require.NoError(t, err)
		return []byte(fmt.Sprintf(`"%s":"%x"`, sub[1], raw))
	})
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(otlp)
	require.NoError(t, err, string(body))
	return code, td
}

// getBody GETs url, with an Accept header unless accept is "", and
// returns the status and the body.
func getBody(t *testing.T, url, accept string) (int, []byte) {
	t.Helper()
	var header []string
	if accept != "" {
		header = []string{"Accept", accept}
	}
	code, _, body := doHTTP(t, http.MethodGet, url, nil, header...)
	return code, body
}

var base64ID = regexp.MustCompile(`"(traceId|spanId|parentSpanId)":"([A-Za-z0-9+/=]+)"`)

func spanNames(td ptrace.Traces) map[string]ptrace.Span {
	out := map[string]ptrace.Span{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				out[svc.Str()+"/"+spans.At(k).Name()+"/"+spans.At(k).Kind().String()] = spans.At(k)
			}
		}
	}
	return out
}

func TestTracesEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir(), "-spanmetrics.flush-interval", "1s")
	traceID := checkoutTrace(t, s)

	// Trace by ID, v1 and v2, in the JSON Grafana reads.
	for _, path := range []string{"/api/traces/" + traceID, "/api/v2/traces/" + traceID} {
		code, td := tempoTrace(t, s, path)
		require.Equal(t, http.StatusOK, code, path)
		spans := spanNames(td)
		require.Len(t, spans, 5, path)
		pay := spans["payment/charge/Server"]
		require.Equal(t, ptrace.StatusCodeError, pay.Status().Code())
		require.Equal(t, "card declined", pay.Status().Message())
		require.Equal(t, spans["checkout/charge card/Client"].SpanID(), pay.ParentSpanID())
		require.Equal(t, 1, pay.Events().Len())
		amount, _ := pay.Attributes().Get("amount")
		require.Equal(t, 12.5, amount.Double())
	}
	code, _ := tempoTrace(t, s, "/api/traces/00000000000000000000000000000abc")
	require.Equal(t, http.StatusNotFound, code)

	// TraceQL search.
	now := time.Now()
	search := func(query string) []any {
		code, body := getJSON(t, s.url("/api/search?"+q("q", query, "start", fmt.Sprint(now.Add(-time.Hour).Unix()), "end", fmt.Sprint(now.Add(time.Minute).Unix()))))
		require.Equal(t, http.StatusOK, code, body)
		return body["traces"].([]any)
	}
	found := search(`{ resource.service.name = "payment" && status = error } && { span.http.request.method = "GET" }`)
	require.Len(t, found, 1)
	tr := found[0].(map[string]any)
	// Tempo trims leading zeros off search results' trace IDs.
	require.Equal(t, strings.TrimLeft(traceID, "0"), tr["traceID"])
	require.Equal(t, "frontend", tr["rootServiceName"])
	require.Equal(t, "GET /checkout", tr["rootTraceName"])
	require.Len(t, search(`{ kind = client } > { name = "charge" }`), 1)
	require.Empty(t, search(`{ resource.service.name = "payment" && duration > 1h }`))
	code, body := getJSON(t, s.url("/api/search?"+q("q", `{ .a = `)))
	require.Equal(t, http.StatusBadRequest, code, body)

	// Tag autocomplete for Grafana's query builder.
	_, body = getJSON(t, s.url("/api/v2/search/tag/resource.service.name/values"))
	require.Contains(t, fmt.Sprint(body["tagValues"]), "payment")

	// Span metrics and the service graph, through PromQL.
	api := s.prom()
	eventually(t, 30*time.Second, "span metrics", func() bool {
		v, _, err := api.Query(ctxT(t), `traces_spanmetrics_calls_total{service="payment",span_name="charge",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR"}`, time.Now())
		return err == nil && len(v.(model.Vector)) == 1 && v.(model.Vector)[0].Value == 1
	})
	require.Equal(t, 1.0, queryScalar(t, api, `sum(traces_spanmetrics_latency_count{service="frontend",span_name="GET /checkout"})`))
	eventually(t, 30*time.Second, "service graph", func() bool {
		v, _, err := api.Query(ctxT(t), `traces_service_graph_request_failed_total{client="checkout",server="payment"}`, time.Now())
		return err == nil && len(v.(model.Vector)) == 1 && v.(model.Vector)[0].Value == 1
	})
	require.Equal(t, 1.0, queryScalar(t, api, `traces_service_graph_request_total{client="frontend",server="checkout"}`))
	require.Equal(t, 1.0, queryScalar(t, api, `sum(traces_service_graph_request_server_seconds_count{client="frontend",server="checkout"})`))

	// Correlation: the trace, its logs and the exemplars that point at it.
	code, body = getJSON(t, s.url("/api/v1/correlate/"+traceID))
	require.Equal(t, http.StatusOK, code, body)
	data := body["data"].(map[string]any)
	trace := data["trace"].(map[string]any)
	require.Equal(t, "frontend", trace["rootServiceName"])
	require.EqualValues(t, 5, trace["spanCount"])
	require.EqualValues(t, 2, trace["errorCount"])
	require.Equal(t, []any{"checkout", "frontend", "payment"}, trace["services"])
	logs := data["logs"].([]any)
	require.Len(t, logs, 2)
	spanIDs := map[string]bool{}
	for _, sp := range trace["spans"].([]any) {
		spanIDs[sp.(map[string]any)["spanID"].(string)] = true
	}
	for _, l := range logs {
		require.True(t, spanIDs[l.(map[string]any)["spanId"].(string)], "each log line names a span of the trace")
	}
	exemplars := data["exemplars"].([]any)
	require.NotEmpty(t, exemplars)
	series := exemplars[0].(map[string]any)["seriesLabels"].(map[string]any)
	require.True(t, strings.HasPrefix(series["__name__"].(string), "traces_"), series)

	// Grafana's traces-to-logs query (README) finds the span's log line.
	code, body = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `{service_name="payment"} | trace_id="`+traceID+`"`)))
	require.Equal(t, http.StatusOK, code, body)
	streams := body["data"].(map[string]any)["result"].([]any)
	require.Len(t, streams, 1)
	require.Equal(t, "payment failed: card declined", streams[0].(map[string]any)["values"].([]any)[0].([]any)[1])

	code, _ = getJSON(t, s.url("/api/v1/correlate/not-a-trace-id"))
	require.Equal(t, http.StatusBadRequest, code)
}

func TestTracesKill9(t *testing.T) {
	s := startServer(t, t.TempDir())
	tp := newTraceService(t, s, "http", "worker")
	var ids []string
	for i := 0; i < 300; i++ {
		ctx, root := tp.Tracer("w").Start(context.Background(), "job")
		_, child := tp.Tracer("w").Start(ctx, "step")
		child.End()
		root.End()
		ids = append(ids, root.SpanContext().TraceID().String())
		if i%100 == 99 {
			require.NoError(t, tp.ForceFlush(ctxT(t))) // acknowledged
		}
	}
	s.kill()
	s.start()
	for _, id := range []string{ids[0], ids[150], ids[299]} {
		code, td := tempoTrace(t, s, "/api/traces/"+id)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, 2, td.SpanCount())
	}
}

func TestTracesBadInput(t *testing.T) {
	s := startServer(t, t.TempDir())
	otlp := func(traceID, spanID string) []byte {
		return []byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bad"}}]},"scopeSpans":[{"spans":[` +
			`{"traceId":"` + traceID + `","spanId":"` + spanID + `","name":"x","startTimeUnixNano":"1","endTimeUnixNano":"2"},` +
			`{"traceId":"5bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"ok","startTimeUnixNano":"1","endTimeUnixNano":"2"}]}]}]}`)
	}
	traces := "http://" + s.otlpHTTP + "/v1/traces"
	code, msg := post(t, traces, "application/json", otlp("00000000000000000000000000000000", "00f067aa0ba902b8"))
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "invalid_trace_id: 1")
	code, msg = post(t, traces, "application/json", otlp("5bf92f3577b34da6a3ce929d0e0e4737", "0000000000000000"))
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Contains(t, msg, "invalid_span_id: 1")
	code, msg = post(t, traces, "application/json", otlp("5bf92f35", "00f067aa0ba902b8"))
	require.Equal(t, http.StatusBadRequest, code, msg)
	code, msg = post(t, traces, "application/x-protobuf", []byte{0x0a, 0xff, 0xff})
	require.Equal(t, http.StatusBadRequest, code, msg)
	require.Equal(t, "1", metricValue(t, s, `sightline_traces_spans_rejected_total{reason="invalid_trace_id"}`))
	require.Equal(t, "1", metricValue(t, s, `sightline_traces_spans_rejected_total{reason="invalid_span_id"}`))
	// The good span of each partly bad request is stored, once.
	code, td := tempoTrace(t, s, "/api/traces/5bf92f3577b34da6a3ce929d0e0e4736")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, td.SpanCount())

	code, body := getJSON(t, s.url("/api/search?"+q("q", `{ span.a = }`)))
	require.Equal(t, http.StatusBadRequest, code, body)
	code, body = getJSON(t, s.url("/api/search?"+q("q", `{ .a = 1 } | by(.a)`)))
	require.Equal(t, http.StatusBadRequest, code, body)
	code, _ = getJSON(t, s.url("/api/traces/xyz"))
	require.Equal(t, http.StatusBadRequest, code)
}

// TestTracesKill9DuringMerges flushes many small heads of spans, so that
// trace segments are merged in the background, and kills sightline while
// they are: after each restart every acknowledged trace comes back whole
// and once, and the segments stay merged.
func TestTracesKill9DuringMerges(t *testing.T) {
	s := startServer(t, t.TempDir(), "-traces.head.max-spans", "100")
	flushed := func() float64 {
		v, err := strconv.ParseFloat(metricValue(t, s, "sightline_traces_segments_flushed_total"), 64)
		require.NoError(t, err)
		return v
	}
	var ids []string
	for r := 0; r < 3; r++ {
		tp := newTraceService(t, s, "http", "merger")
		for h := 0; h < 10; h++ {
			before := flushed()
			for i := 0; i < 50; i++ {
				ctx, root := tp.Tracer("m").Start(context.Background(), "job")
				_, child := tp.Tracer("m").Start(ctx, "step")
				child.End()
				root.End()
				ids = append(ids, root.SpanContext().TraceID().String())
			}
			require.NoError(t, tp.ForceFlush(ctxT(t))) // acknowledged: 100 spans, a full head
			require.Eventually(t, func() bool { return flushed() > before }, 30*time.Second, 10*time.Millisecond)
		}
		s.kill() // heads are being flushed and segments merged
		s.start()
		for i := 0; i < len(ids); i += 7 {
			code, td := tempoTrace(t, s, "/api/traces/"+ids[i])
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, 2, td.SpanCount(), "round %d trace %d: whole, and once", r, i)
		}
	}
	merged := 0.0
	for _, level := range []string{"1", "2", "3"} {
		if v := metricValue(t, s, `sightline_traces_parts{level="`+level+`"}`); v != "" {
			n, err := strconv.ParseFloat(v, 64)
			require.NoError(t, err)
			merged += n
		}
	}
	require.Positive(t, merged, "segments were merged")
}
