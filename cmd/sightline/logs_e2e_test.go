package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/snappy"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	"go.opentelemetry.io/otel/sdk/resource"
)

// newLogService is a service whose logs go through the OpenTelemetry SDK's
// OTLP log exporter to sightline.
func newLogService(t *testing.T, s *server, proto, service string) *sdklog.LoggerProvider {
	t.Helper()
	ctx := ctxT(t)
	var exp sdklog.Exporter
	var err error
	switch proto {
	case "grpc":
		exp, err = otlploggrpc.New(ctx, otlploggrpc.WithEndpoint(s.grpcAddr), otlploggrpc.WithInsecure(),
			otlploggrpc.WithRetry(otlploggrpc.RetryConfig{Enabled: false}))
	case "http":
		exp, err = otlploghttp.New(ctx, otlploghttp.WithEndpoint(s.otlpHTTP), otlploghttp.WithInsecure(),
			otlploghttp.WithRetry(otlploghttp.RetryConfig{Enabled: false}))
	}
	require.NoError(t, err)
	lp := sdklog.NewLoggerProvider(
		sdklog.WithResource(resource.NewSchemaless(
			attribute.String("service.name", service),
			attribute.String("service.namespace", "shop"),
			attribute.String("host.name", "node-7"),
		)),
		// A simple processor exports on every Emit; ForceFlush is then a no-op.
		sdklog.WithProcessor(sdklog.NewBatchProcessor(exp, sdklog.WithExportInterval(time.Hour))),
	)
	t.Cleanup(func() { _ = lp.Shutdown(context.Background()) })
	return lp
}

func emit(lp *sdklog.LoggerProvider, ctx context.Context, sev otellog.Severity, body string, attrs ...otellog.KeyValue) {
	var r otellog.Record
	r.SetTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetSeverityText(sev.String())
	r.SetBody(otellog.StringValue(body))
	r.AddAttributes(attrs...)
	lp.Logger("shop.checkout", otellog.WithInstrumentationVersion("1.2.3")).Emit(ctx, r)
}

func getJSON(t *testing.T, rawURL string, header ...string) (int, map[string]any) {
	t.Helper()
	code, _, b := doHTTP(t, http.MethodGet, rawURL, nil, header...)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		m = map[string]any{"raw": string(b)}
	}
	return code, m
}

func q(params ...string) string {
	v := url.Values{}
	for i := 0; i < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	return v.Encode()
}

func TestOTLPLogsEndToEnd(t *testing.T) {
	s := startServer(t, t.TempDir())
	for i, proto := range []string{"grpc", "http"} {
		t.Run(proto, func(t *testing.T) {
			service := "checkout-" + proto
			lp := newLogService(t, s, proto, service)
			traceHex := fmt.Sprintf("5bf92f3577b34da6a3ce929d0e0e47%02x", i)
			ctx := sampledContext(traceHex, fmt.Sprintf("10f067aa0ba902%02x", i))
			emit(lp, ctx, otellog.SeverityError, "payment failed: card declined", otellog.String("order.id", "o-42"), otellog.Int("attempt", 3))
			emit(lp, ctx, otellog.SeverityInfo, "retrying payment", otellog.String("order.id", "o-42"))
			emit(lp, context.Background(), otellog.SeverityDebug, "cache warmed")
			require.NoError(t, lp.ForceFlush(ctxT(t)))

			// Native search, bleve query-string syntax.
			code, body := getJSON(t, s.url("/api/v1/logs/search?"+q("query", `service.name:`+service+` AND "payment failed" AND severity_text:ERROR`)))
			require.Equal(t, http.StatusOK, code, body)
			recs := body["data"].(map[string]any)["records"].([]any)
			require.Len(t, recs, 1)
			r := recs[0].(map[string]any)
			require.Equal(t, "payment failed: card declined", r["body"])
			require.Equal(t, traceHex, r["traceId"])
			require.EqualValues(t, 17, r["severityNumber"])
			require.Equal(t, "o-42", r["attributes"].(map[string]any)["order.id"])
			require.EqualValues(t, 3, r["attributes"].(map[string]any)["attempt"])
			require.Equal(t, "node-7", r["resource"].(map[string]any)["host.name"])
			require.Equal(t, map[string]any{"name": "shop.checkout", "version": "1.2.3"}, r["scope"])

			// Every line of the request, by trace ID, with no time range.
			code, body = getJSON(t, s.url("/api/v1/logs/trace/"+traceHex))
			require.Equal(t, http.StatusOK, code, body)
			recs = body["data"].(map[string]any)["records"].([]any)
			require.Len(t, recs, 2)
			for _, x := range recs {
				require.Equal(t, fmt.Sprintf("10f067aa0ba902%02x", i), x.(map[string]any)["spanId"])
			}

			// LogQL through the Loki API, as Grafana asks (categorized labels).
			code, body = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `{service_name="`+service+`"} |= "payment" | severity_text="ERROR"`, "limit", "10")),
				"X-Loki-Response-Encoding-Flags", "categorize-labels")
			require.Equal(t, http.StatusOK, code, body)
			data := body["data"].(map[string]any)
			require.Equal(t, "streams", data["resultType"])
			require.Equal(t, []any{"categorize-labels"}, data["encodingFlags"])
			result := data["result"].([]any)
			require.Len(t, result, 1)
			stream := result[0].(map[string]any)
			require.Equal(t, map[string]any{"service_name": service, "service_namespace": "shop", "severity": "error", "detected_level": "error"}, stream["stream"])
			values := stream["values"].([]any)
			require.Len(t, values, 1)
			v := values[0].([]any)
			require.Len(t, v, 3)
			require.Regexp(t, `^\d{19}$`, v[0])
			require.Equal(t, "payment failed: card declined", v[1])
			md := v[2].(map[string]any)["structuredMetadata"].(map[string]any)
			require.Equal(t, traceHex, md["trace_id"])
			require.Equal(t, "o-42", md["order_id"])
			require.Equal(t, "node-7", md["host_name"])
		})
	}

	// A metric query over both services, in Loki's matrix shape.
	code, body := getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `sum by (service_name) (count_over_time({service_namespace="shop"} |= "payment" [10m]))`, "step", "60")))
	require.Equal(t, http.StatusOK, code, body)
	data := body["data"].(map[string]any)
	require.Equal(t, "matrix", data["resultType"])
	result := data["result"].([]any)
	require.Len(t, result, 2)
	for _, s := range result {
		vals := s.(map[string]any)["values"].([]any)
		last := vals[len(vals)-1].([]any)
		require.Equal(t, "2", last[1], "two payment lines per service")
	}
	// Labels, values, series and stats for Grafana's query builder.
	_, body = getJSON(t, s.url("/loki/api/v1/labels"))
	require.Equal(t, []any{"detected_level", "service_name", "service_namespace", "severity"}, body["data"])
	_, body = getJSON(t, s.url("/loki/api/v1/label/severity/values"))
	require.Equal(t, []any{"debug", "error", "info"}, body["data"])
	_, body = getJSON(t, s.url("/loki/api/v1/index/stats?"+q("query", `{service_name="checkout-grpc"}`)))
	require.EqualValues(t, 3, body["entries"])
	require.EqualValues(t, 3, body["streams"])
	_, body = getJSON(t, s.url("/loki/api/v1/series?"+q("match[]", `{severity="error"}`)))
	require.Len(t, body["data"], 2)
	// Grafana's health check.
	code, body = getJSON(t, s.url("/loki/api/v1/query?"+q("query", "vector(1)+vector(1)")))
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "vector", body["data"].(map[string]any)["resultType"])
}

func lokiPush(t *testing.T, s *server, streams ...push.Stream) (int, string) {
	t.Helper()
	raw, err := (&push.PushRequest{Streams: streams}).Marshal()
	require.NoError(t, err)
	return post(t, s.url("/loki/api/v1/push"), "application/x-protobuf", snappy.Encode(nil, raw))
}

// TestLogsKill9 pushes batches through the Loki protobuf API, kills sightline
// with SIGKILL and counts every acknowledged line after the restart.
func TestLogsKill9(t *testing.T) {
	s := startServer(t, t.TempDir())
	const batches, per = 30, 50
	base := time.Now().Add(-time.Minute)
	for b := 0; b < batches; b++ {
		var entries []push.Entry
		for i := 0; i < per; i++ {
			entries = append(entries, push.Entry{Timestamp: base.Add(time.Duration(b*per+i) * time.Millisecond), Line: fmt.Sprintf("batch %d line %d acked", b, i)})
		}
		code, body := lokiPush(t, s, push.Stream{Labels: `{service_name="durable", level="info"}`, Entries: entries})
		require.Equal(t, http.StatusNoContent, code, body)
	}
	s.kill()
	s.restart()
	code, body := getJSON(t, s.url("/api/v1/logs/histogram?"+q("query", "acked", "start", base.Add(-time.Minute).Format(time.RFC3339Nano), "end", time.Now().Format(time.RFC3339Nano), "step", "1h")))
	require.Equal(t, http.StatusOK, code, body)
	var total float64
	for _, b := range body["data"].(map[string]any)["buckets"].([]any) {
		total += b.(map[string]any)["count"].(float64)
	}
	require.EqualValues(t, batches*per, total, "every acknowledged line is there after kill -9")
}

func TestLogsBadInput(t *testing.T) {
	s := startServer(t, t.TempDir(), "-logs.max-record-size", "1KiB", "-logs.query.max-scan-records", "100")
	pushURL := s.url("/loki/api/v1/push")
	code, body := lokiPush(t, s, push.Stream{Labels: `{service_name="kept"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: "stored before the bad input"}}})
	require.Equal(t, http.StatusNoContent, code, body)

	f := func(contentType string, payload []byte, wantCode int, wantMsg string) {
		t.Helper()
		code, body := post(t, pushURL, contentType, payload)
		require.Equal(t, wantCode, code, body)
		require.Contains(t, body, wantMsg)
	}
	f("application/x-protobuf", []byte("not snappy"), 400, "malformed push request")
	f("application/x-protobuf", snappy.Encode(nil, []byte{0x0a, 0xff, 0xff}), 400, "protobuf")
	f("application/json", []byte(`{"streams":[`), 400, "JSON")
	f("application/json", []byte(`{"streams":[{"stream":{"a":"b"},"values":[["notanumber","x"]]}]}`), 400, "not Unix nanoseconds")
	f("text/plain", []byte("x"), 415, "unsupported Content-Type")
	_, body = lokiPush(t, s, push.Stream{Labels: `{service_name=}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: "x"}}})
	require.Contains(t, body, "invalid labels")
	code, body = lokiPush(t, s, push.Stream{Labels: `{service_name="big"}`, Entries: []push.Entry{
		{Timestamp: time.Now(), Line: strings.Repeat("x", 2000)}, {Timestamp: time.Now(), Line: "small one \xff kept"}}})
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, body, "too_large")

	// Invalid UTF-8 was repaired, not stored corrupt; the small entry of the
	// same request was kept.
	_, res := getJSON(t, s.url("/api/v1/logs/search?"+q("query", `service.name:big`)))
	recs := res["data"].(map[string]any)["records"].([]any)
	require.Len(t, recs, 1)
	require.Equal(t, "small one \uFFFD kept", recs[0].(map[string]any)["body"])

	// Bad queries name the problem.
	code, res = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `{service_name="x"`)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, res["raw"], "parse error")
	code, res = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `{service_name="x"} | unwrap latency`)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, res["raw"], "parse error", "unwrap outside a range aggregation, as Loki answers it")
	code, res = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `rate({service_name="x"}[5m:1m])`)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, res["raw"], "unsupported LogQL", "subqueries, which Loki refuses too")
	code, res = getJSON(t, s.url("/api/v1/logs/search?"+q("query", `body:"unterminated`)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Equal(t, "bad_data", res["errorType"])
	code, res = getJSON(t, s.url("/api/v1/logs/trace/xyz"))
	require.Equal(t, http.StatusBadRequest, code, res)

	// A query that would read too much is stopped by the limit.
	var entries []push.Entry
	for i := 0; i < 200; i++ {
		entries = append(entries, push.Entry{Timestamp: time.Now(), Line: fmt.Sprintf("line %d", i)})
	}
	code, body = lokiPush(t, s, push.Stream{Labels: `{service_name="many"}`, Entries: entries})
	require.Equal(t, http.StatusNoContent, code, body)
	code, res = getJSON(t, s.url("/api/v1/logs/search?"+q("query", "line")))
	require.Equal(t, http.StatusUnprocessableEntity, code, res)
	require.Contains(t, res["error"], "more than 100 records")
	code, res = getJSON(t, s.url("/loki/api/v1/query_range?"+q("query", `{service_name="many"}`)))
	require.Equal(t, http.StatusBadRequest, code)
	require.Contains(t, res["raw"], "more than 100 records")

	// Nothing stored before was lost.
	_, res = getJSON(t, s.url("/loki/api/v1/index/stats?"+q("query", `{service_name="kept"}`)))
	require.EqualValues(t, 1, res["entries"])
	require.Equal(t, "7", metricValue(t, s, `sightline_loki_push_bad_requests_total`), "every refused push is counted")
}

// TestLokiTail: a websocket tail receives a line pushed after it opened.
func TestLokiTail(t *testing.T) {
	s := startServer(t, t.TempDir())
	conn, _, err := websocket.DefaultDialer.DialContext(ctxT(t), "ws://"+s.httpAddr+"/loki/api/v1/tail?"+q("query", `{service_name="tailed"} |= "hello"`), nil)
	require.NoError(t, err)
	defer conn.Close()
	// Stored a few seconds after their timestamps, as shippers do: the
	// tail has polled meanwhile and must still send them.
	late := time.Now().Add(-3 * time.Second)
	code, body := lokiPush(t, s, push.Stream{Labels: `{service_name="tailed"}`, Entries: []push.Entry{
		{Timestamp: late, Line: "skip me"}, {Timestamp: late.Add(time.Millisecond), Line: "hello tail"}}})
	require.Equal(t, http.StatusNoContent, code, body)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(20*time.Second)))
	var msg struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]string        `json:"values"`
		} `json:"streams"`
	}
	require.NoError(t, conn.ReadJSON(&msg))
	require.Len(t, msg.Streams, 1)
	require.Equal(t, "tailed", msg.Streams[0].Stream["service_name"])
	require.Equal(t, "hello tail", msg.Streams[0].Values[0][1])
}

// TestLogsKill9DuringMerges flushes many small heads, so that segments are
// merged in the background, and kills sightline with SIGKILL while they
// are, several times: every acknowledged line is there once after each
// restart, and the segments stay merged.
func TestLogsKill9DuringMerges(t *testing.T) {
	s := startServer(t, t.TempDir(), "-logs.head.max-records", "100")
	base := time.Now().Add(-time.Minute)
	const rounds, batches, per = 4, 20, 60
	count := func() float64 {
		code, body := getJSON(t, s.url("/api/v1/logs/histogram?"+q("query", "acked", "start", base.Add(-time.Minute).Format(time.RFC3339Nano), "end", time.Now().Format(time.RFC3339Nano), "step", "1h")))
		require.Equal(t, http.StatusOK, code, body)
		var total float64
		for _, b := range body["data"].(map[string]any)["buckets"].([]any) {
			total += b.(map[string]any)["count"].(float64)
		}
		return total
	}
	flushed := func() float64 {
		v, err := strconv.ParseFloat(metricValue(t, s, "sightline_logs_segments_flushed_total"), 64)
		require.NoError(t, err)
		return v
	}
	n := 0
	for r := 0; r < rounds; r++ {
		for b := 0; b < batches; b++ {
			var entries []push.Entry
			for i := 0; i < per; i++ {
				entries = append(entries, push.Entry{Timestamp: base.Add(time.Duration(n) * time.Millisecond), Line: fmt.Sprintf("round %d batch %d line %d acked", r, b, i)})
				n++
			}
			before := flushed()
			code, body := lokiPush(t, s, push.Stream{Labels: `{service_name="merging"}`, Entries: entries})
			require.Equal(t, http.StatusNoContent, code, body)
			if b%2 == 1 { // the head is full: wait for its flush, one segment each
				require.Eventually(t, func() bool { return flushed() > before }, 30*time.Second, 10*time.Millisecond)
			}
		}
		s.kill() // heads are being flushed and segments merged
		s.restart()
		require.EqualValues(t, n, count(), "round %d: every acknowledged line, once, after kill -9", r)
	}
	// 40 heads of 120 lines were flushed; merges keep far fewer segments.
	resp, err := http.Get(s.url("/metrics"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	parts, merged := 0.0, 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "sightline_logs_parts{") {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			require.NoError(t, err)
			parts += v
			if !strings.HasPrefix(line, `sightline_logs_parts{level="0"}`) {
				merged += v
			}
		}
	}
	t.Logf("segments at the end: %.0f, %.0f of them merged", parts, merged)
	require.Positive(t, merged, "segments were merged")
	require.Less(t, parts, 20.0, "segments after %d flushes", rounds*batches*per/100)
}
