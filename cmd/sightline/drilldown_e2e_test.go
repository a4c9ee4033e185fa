package main_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"
)

// TestLokiPushStreamLabels (issue 11 item 8): the labels a Loki push names
// are stream labels, as Promtail, Grafana Alloy and the Docker driver
// expect: a selector on them finds the lines, the label browser lists them
// and the lines' streams carry them; OTLP logs keep their own labels.
func TestLokiPushStreamLabels(t *testing.T) {
	s := startServer(t, t.TempDir())
	now := time.Now()
	// As Promtail pushes a scraped file: protobuf, no service_name.
	code, body := lokiPush(t, s, push.Stream{Labels: `{job="varlogs", filename="/var/log/syslog"}`, Entries: []push.Entry{
		{Timestamp: now.Add(-2 * time.Second), Line: "kernel: eth0 link up"},
		{Timestamp: now.Add(-time.Second), Line: "sshd: accepted publickey for root", StructuredMetadata: push.LabelsAdapter{{Name: "pid", Value: "4242"}}},
	}})
	require.Equal(t, http.StatusNoContent, code, body)
	// As the Docker driver pushes, in JSON.
	code, body = post(t, s.url("/loki/api/v1/push"), "application/json", []byte(fmt.Sprintf(
		`{"streams":[{"stream":{"job":"docker","container_name":"web","level":"warn"},"values":[["%d","GET / 200"]]}]}`, now.UnixNano())))
	require.Equal(t, http.StatusNoContent, code, body)
	lp := newLogService(t, s, "http", "checkout")
	emit(lp, context.Background(), otellog.SeverityInfo, "order placed")
	require.NoError(t, lp.ForceFlush(ctxT(t)))

	start, end := now.Add(-time.Hour), now.Add(time.Minute)
	// Explore's log query (grafana-loki-datasource src/datasource.ts, sent
	// by pkg/loki/api.go with categorize-labels).
	data := lokiRange(t, s, `{job="varlogs"}`, start, end, time.Minute, 1000, "")
	result := data["result"].([]any)
	require.Len(t, result, 1, "one stream: %v", result)
	stream := result[0].(map[string]any)
	require.Equal(t, map[string]any{"job": "varlogs", "filename": "/var/log/syslog", "service_name": "varlogs",
		"severity": "unknown", "detected_level": "unknown"}, stream["stream"])
	values := stream["values"].([]any)
	require.Len(t, values, 2)
	newest := values[0].([]any)
	require.Equal(t, "sshd: accepted publickey for root", newest[1])
	md := newest[2].(map[string]any)["structuredMetadata"].(map[string]any)
	require.Equal(t, "4242", md["pid"])
	require.NotContains(t, md, "job", "a pushed label is no structured metadata")
	require.NotContains(t, md, "filename")

	data = lokiRange(t, s, `{job="docker", container_name="web", level="warn"}`, start, end, time.Minute, 1000, "")
	require.Len(t, data["result"].([]any), 1, "the Docker driver's labels select its line")
	data = lokiRange(t, s, `sum by (job) (count_over_time({job=~".+"}[1h]))`, start, end, time.Hour, 0, "")
	counts := map[string]string{}
	for _, x := range data["result"].([]any) {
		series := x.(map[string]any)
		vals := series["values"].([]any)
		counts[series["metric"].(map[string]any)["job"].(string)] = vals[len(vals)-1].([]any)[1].(string)
	}
	require.Equal(t, map[string]string{"varlogs": "2", "docker": "1"}, counts)

	// The label browser (grafana-loki-datasource src/LanguageProvider.ts
	// fetchLabels and fetchLabelValues): start and end in nanoseconds.
	ns := func(t time.Time) string { return fmt.Sprint(t.UnixNano()) }
	code, labels := getJSON(t, s.url("/loki/api/v1/labels?"+q("start", ns(start), "end", ns(end))))
	require.Equal(t, http.StatusOK, code, labels)
	require.Equal(t, []any{"container_name", "detected_level", "filename", "job", "level", "service_name", "service_namespace", "severity"}, labels["data"])
	code, vals := getJSON(t, s.url("/loki/api/v1/label/job/values?"+q("start", ns(start), "end", ns(end))))
	require.Equal(t, http.StatusOK, code, vals)
	require.Equal(t, []any{"docker", "varlogs"}, vals["data"])
	code, vals = getJSON(t, s.url("/loki/api/v1/label/filename/values?"+q("start", ns(start), "end", ns(end), "query", `{job="varlogs"}`)))
	require.Equal(t, http.StatusOK, code, vals)
	require.Equal(t, []any{"/var/log/syslog"}, vals["data"])

	// The OTLP service's stream is unchanged: its host.name stays metadata.
	data = lokiRange(t, s, `{service_name="checkout"}`, start, end, time.Minute, 1000, "")
	result = data["result"].([]any)
	require.Len(t, result, 1)
	require.Equal(t, map[string]any{"service_name": "checkout", "service_namespace": "shop", "severity": "info", "detected_level": "info"},
		result[0].(map[string]any)["stream"])
}
