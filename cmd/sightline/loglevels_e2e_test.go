package main_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"
	sdklog "go.opentelemetry.io/otel/sdk/log"
)

// lokiRange sends a range query as Grafana's Loki datasource does
// (grafana-loki-datasource, pkg/loki/api.go makeDataRequest): query,
// direction, limit, start and end in nanoseconds, step in milliseconds,
// the categorize-labels encoding flag, and X-Query-Tags naming a
// supporting query (logvolhist for the log volume). It returns data.
func lokiRange(t *testing.T, s *server, expr string, start, end time.Time, step time.Duration, limit int, source string) map[string]any {
	t.Helper()
	qs := url.Values{}
	qs.Set("query", expr)
	qs.Set("direction", "backward")
	if limit > 0 {
		qs.Set("limit", strconv.Itoa(limit))
	}
	qs.Set("start", strconv.FormatInt(start.UnixNano(), 10))
	qs.Set("end", strconv.FormatInt(end.UnixNano(), 10))
	qs.Set("step", fmt.Sprintf("%dms", step.Milliseconds()))
	header := []string{"X-Loki-Response-Encoding-Flags", "categorize-labels"}
	if source != "" {
		header = append(header, "X-Query-Tags", "Source="+source)
	}
	code, body := getJSON(t, s.url("/loki/api/v1/query_range?"+qs.Encode()), header...)
	require.Equal(t, http.StatusOK, code, "%s: %v", expr, body)
	require.Equal(t, "success", body["status"], expr)
	return body["data"].(map[string]any)
}

// emitSeverity logs a record with a severity number and no severity text,
// as OTel log bridges that only map levels to numbers do.
func emitSeverity(lp *sdklog.LoggerProvider, sev otellog.Severity, body string) {
	var r otellog.Record
	r.SetTimestamp(time.Now())
	r.SetSeverity(sev)
	r.SetBody(otellog.StringValue(body))
	lp.Logger("shop.levels").Emit(context.Background(), r)
}

// TestGrafanaLogLevels: every log line answers detected_level, from its
// OTLP severity, else from its line (JSON or logfmt level field, or a
// level word), as Loki detects it; Grafana's log volume, label browser,
// level filters and line colours read it.
func TestGrafanaLogLevels(t *testing.T) {
	s := startServer(t, t.TempDir())
	lp := newLogService(t, s, "grpc", "levels")
	emitSeverity(lp, otellog.SeverityWarn, "disk almost full")
	emitSeverity(lp, otellog.SeverityError2, "payment failed")
	emitSeverity(lp, otellog.SeverityInfo, "order placed")
	emitSeverity(lp, otellog.SeverityInfo4, "order shipped")
	emitSeverity(lp, otellog.SeverityUndefined, `{"level":"debug","msg":"cache warmed"}`)
	emitSeverity(lp, otellog.SeverityUndefined, "a line that says nothing of its level")
	require.NoError(t, lp.ForceFlush(ctxT(t)))
	// Lines pushed as Promtail and Alloy push them: no level label.
	code, body := lokiPush(t, s, push.Stream{Labels: `{service_name="pushed"}`, Entries: []push.Entry{
		{Timestamp: time.Now(), Line: "2024-05-01T10:00:00Z ERROR connection refused"},
		{Timestamp: time.Now(), Line: `ts=2024-05-01T10:00:00Z level=info msg="request served"`},
	}})
	require.Equal(t, http.StatusNoContent, code, body)

	start, end := time.Now().Add(-10*time.Minute), time.Now().Add(time.Minute)
	// Explore's log volume histogram: the supplementary query of
	// grafana-loki-datasource src/datasource.ts getSupplementaryQuery
	// (sum by (level, detected_level) ... | drop __error__ [$__auto]), with
	// $__auto the step (pkg/loki/parse_query.go interpolateVariables).
	for _, c := range []struct {
		selector string
		want     map[string]float64
	}{
		{`{service_name="levels"}`, map[string]float64{"warn": 1, "error": 1, "info": 2, "debug": 1, "unknown": 1}},
		{`{service_name="pushed"}`, map[string]float64{"error": 1, "info": 1}},
	} {
		expr := `sum by (level, detected_level) (count_over_time(` + c.selector + ` | drop __error__[1m]))`
		data := lokiRange(t, s, expr, start, end, time.Minute, 1000, "logvolhist")
		require.Equal(t, "matrix", data["resultType"])
		got := map[string]float64{}
		for _, x := range data["result"].([]any) {
			series := x.(map[string]any)
			metric := series["metric"].(map[string]any)
			lvl, _ := metric["detected_level"].(string)
			require.Equal(t, map[string]any{"detected_level": lvl}, metric, "one series per level, no level label")
			_, seen := got[lvl]
			require.False(t, seen, "one series per level: %s", lvl)
			got[lvl] = 0
			for _, p := range series["values"].([]any) {
				v, err := strconv.ParseFloat(p.([]any)[1].(string), 64)
				require.NoError(t, err)
				got[lvl] += v
			}
		}
		require.Equal(t, c.want, got, c.selector)
	}

	// The label browser (grafana-loki-datasource src/LanguageProvider.ts
	// fetchLabelsByLabelsEndpoint and fetchLabelValues): start and end in
	// nanoseconds, the values narrowed by the selected stream.
	code, labels := getJSON(t, s.url("/loki/api/v1/labels?"+q("start", fmt.Sprint(start.UnixNano()), "end", fmt.Sprint(end.UnixNano()))))
	require.Equal(t, http.StatusOK, code, labels)
	require.Contains(t, labels["data"], "detected_level")
	code, values := getJSON(t, s.url("/loki/api/v1/label/detected_level/values?"+q("start", fmt.Sprint(start.UnixNano()), "end", fmt.Sprint(end.UnixNano()), "query", `{service_name="levels"}`)))
	require.Equal(t, http.StatusOK, code, values)
	require.Equal(t, []any{"debug", "error", "info", "unknown", "warn"}, values["data"])

	// The lines, as Explore asks for them: each stream says its level,
	// which Grafana colours the line by; and filtered by level, as a
	// stream selector or as the label filter Grafana adds when a level of
	// the volume legend is clicked.
	data := lokiRange(t, s, `{service_name="levels"}`, start, end, time.Minute, 1000, "")
	require.Equal(t, "streams", data["resultType"])
	lines := map[string]string{}
	for _, x := range data["result"].([]any) {
		stream := x.(map[string]any)
		lvl := stream["stream"].(map[string]any)["detected_level"].(string)
		for _, v := range stream["values"].([]any) {
			lines[v.([]any)[1].(string)] = lvl
		}
	}
	require.Equal(t, map[string]string{
		"disk almost full": "warn", "payment failed": "error", "order placed": "info", "order shipped": "info",
		`{"level":"debug","msg":"cache warmed"}`: "debug", "a line that says nothing of its level": "unknown",
	}, lines)
	for _, expr := range []string{
		`{service_name=~"levels|pushed", detected_level="error"}`,
		`{service_name=~"levels|pushed"} | detected_level="error"`,
	} {
		data := lokiRange(t, s, expr, start, end, time.Minute, 1000, "")
		var got []string
		for _, x := range data["result"].([]any) {
			for _, v := range x.(map[string]any)["values"].([]any) {
				got = append(got, v.([]any)[1].(string))
			}
		}
		require.ElementsMatch(t, []string{"payment failed", "2024-05-01T10:00:00Z ERROR connection refused"}, got, expr)
	}
}
