package main_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
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

	// The native API shows the pushed labels as the resource, as before.
	code, native := getJSON(t, s.url("/api/v1/logs/search?"+q("query", `job:varlogs`)))
	require.Equal(t, http.StatusOK, code, native)
	recs := native["data"].(map[string]any)["records"].([]any)
	require.Len(t, recs, 2)
	require.Equal(t, map[string]any{"job": "varlogs", "filename": "/var/log/syslog", "service.name": "varlogs"}, recs[0].(map[string]any)["resource"])

	// The OTLP service's stream is unchanged: its host.name stays metadata.
	data = lokiRange(t, s, `{service_name="checkout"}`, start, end, time.Minute, 1000, "")
	result = data["result"].([]any)
	require.Len(t, result, 1)
	require.Equal(t, map[string]any{"service_name": "checkout", "service_namespace": "shop", "severity": "info", "detected_level": "info"},
		result[0].(map[string]any)["stream"])
}

// TestGrafanaLogsDrilldown (issue 11 item 7): the requests of Grafana's
// Logs Drilldown app and of the Loki data source's field value
// suggestions, in the form they are sent, over logs from the OpenTelemetry
// SDK and a Loki push; Grafana's data source backend forwards a resource
// call GET /loki/api/v1/<resource> with its query string unchanged
// (grafana-loki-datasource pkg/loki/loki.go callResource).
func TestGrafanaLogsDrilldown(t *testing.T) {
	s := startServer(t, t.TempDir())
	checkout := newLogService(t, s, "grpc", "checkout")
	var placed []string
	for i := range 5 {
		placed = append(placed, fmt.Sprintf("msg=placed order=%d amount=%d", i, 10*i+5))
		emit(checkout, context.Background(), otellog.SeverityInfo, placed[i])
	}
	declined := "msg=declined order=7 reason=expired"
	emit(checkout, context.Background(), otellog.SeverityError, declined)
	emit(checkout, context.Background(), otellog.SeverityError, declined)
	require.NoError(t, checkout.ForceFlush(ctxT(t)))
	payments := newLogService(t, s, "http", "payments")
	emit(payments, context.Background(), otellog.SeverityInfo, "refund issued")
	require.NoError(t, payments.ForceFlush(ctxT(t)))
	code, body := lokiPush(t, s, push.Stream{Labels: `{job="varlogs"}`, Entries: []push.Entry{{Timestamp: time.Now(), Line: "kernel: eth0 link up"}}})
	require.Equal(t, http.StatusNoContent, code, body)

	// The time picker's range, as the app sends it: request.range.from and
	// .to, .utc().toISOString().
	now := time.Now()
	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	from, to := iso(now.Add(-15*time.Minute)), iso(now.Add(time.Minute))

	// The service list: logs-drilldown src/services/datasource.ts getVolume
	// (resource index/volume; it reads metric[primaryLabel] and value[1]).
	code, vol := getJSON(t, s.url("/loki/api/v1/index/volume?"+q("end", to, "limit", "5000", "query", `{service_name=~".+"}`, "start", from)))
	require.Equal(t, http.StatusOK, code, vol)
	bytes := 2 * len(declined)
	for _, l := range placed {
		bytes += len(l)
	}
	volumes := map[string]string{}
	for _, x := range vol["data"].(map[string]any)["result"].([]any) {
		r := x.(map[string]any)
		volumes[r["metric"].(map[string]any)["service_name"].(string)] = r["value"].([]any)[1].(string)
	}
	require.Equal(t, map[string]string{"checkout": fmt.Sprint(bytes), "payments": fmt.Sprint(len("refund issued")), "varlogs": fmt.Sprint(len("kernel: eth0 link up"))}, volumes)
	// index/volume_range, in the form Loki's HTTP API documents.
	code, vol = getJSON(t, s.url("/loki/api/v1/index/volume_range?"+q("query", `{service_name="checkout"}`, "start", from, "end", to, "step", "60")))
	require.Equal(t, http.StatusOK, code, vol)
	data := vol["data"].(map[string]any)
	require.Equal(t, "matrix", data["resultType"])
	require.Len(t, data["result"], 1)
	sum := 0
	for _, p := range data["result"].([]any)[0].(map[string]any)["values"].([]any) {
		n, err := strconv.Atoi(p.([]any)[1].(string))
		require.NoError(t, err)
		sum += n
	}
	require.Equal(t, bytes, sum)

	// The labels tab: getDetectedLabels, with an empty query when no label
	// is selected (it reads label and cardinality).
	code, dl := getJSON(t, s.url("/loki/api/v1/detected_labels?"+q("end", to, "query", "", "start", from)))
	require.Equal(t, http.StatusOK, code, dl)
	cardinality := map[string]float64{}
	for _, x := range dl["detectedLabels"].([]any) {
		cardinality[x.(map[string]any)["label"].(string)] = x.(map[string]any)["cardinality"].(float64)
	}
	require.Equal(t, map[string]float64{"detected_level": 3, "job": 1, "service_name": 3, "service_namespace": 1, "severity": 3}, cardinality)

	// Field value suggestions: grafana-loki-datasource
	// src/LanguageProvider.ts fetchDetectedLabelValues (start and end in
	// nanoseconds from getTimeRangeParams, limit 1000, the query when there
	// is one), called by logs-drilldown src/services/TagValuesProviders.ts.
	ns := func(t time.Time) string { return fmt.Sprint(t.UnixNano()) }
	fieldValues := func(name string, params ...string) []any {
		t.Helper()
		code, fv := getJSON(t, s.url("/loki/api/v1/detected_field/"+name+"/values?"+q(append([]string{"start", ns(now.Add(-15 * time.Minute)), "end", ns(now.Add(time.Minute)), "limit", "1000"}, params...)...)))
		require.Equal(t, http.StatusOK, code, fv)
		return fv["values"].([]any)
	}
	require.Equal(t, []any{"0", "1", "2", "3", "4", "7"}, fieldValues("order", "query", `{service_name="checkout"}`))
	require.Equal(t, []any{"error", "info"}, fieldValues("detected_level", "query", `{service_name="checkout"}`))
	require.Equal(t, []any{"node-7"}, fieldValues("host_name"), "structured metadata, from every stream")

	// The patterns tab: getPatterns (query, ISO times, the panel interval
	// as step; it reads pattern, samples [seconds, count] and level).
	code, pt := getJSON(t, s.url("/loki/api/v1/patterns?"+q("end", to, "query", `{service_name="checkout"}`, "start", from, "step", "15s")), "X-Query-Tags", "Source=grafana-lokiexplore-app")
	require.Equal(t, http.StatusOK, code, pt)
	got := map[string]float64{}
	for _, x := range pt["data"].([]any) {
		p := x.(map[string]any)
		for _, smp := range p["samples"].([]any) {
			ts := smp.([]any)[0].(float64)
			require.InDelta(t, float64(now.Unix()), ts, 15*60, "samples are at Unix seconds in the range")
			got[p["pattern"].(string)+" @"+p["level"].(string)] += smp.([]any)[1].(float64)
		}
	}
	require.Equal(t, map[string]float64{"msg=placed order=<_> amount=<_> @info": 5, declined + " @error": 2}, got)
}
