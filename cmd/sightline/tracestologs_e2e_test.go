package main_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	otellog "go.opentelemetry.io/otel/log"
)

// TestGrafanaTracesToLogs sends the Loki queries of Grafana's "Logs for
// this span" link exactly as Grafana builds them and checks the lines that
// come back. The queries are those of getQueryForLoki in Grafana's
// public/app/features/explore/TraceView/createSpanLink.tsx, with its
// default tags (service.name and service.namespace, mapped to
// service_name and service_namespace) filled in by getFormattedTags, and
// the ${__span.traceId} / ${__span.spanId} variables interpolated.
func TestGrafanaTracesToLogs(t *testing.T) {
	s := startServer(t, t.TempDir())
	const (
		traceID = "6d3be7bab110475a6fcfde4fd9386618"
		spanID  = "0af7651916cd43dd"
	)
	lp := newLogService(t, s, "http", "quote")
	inSpan := sampledContext(traceID, spanID)
	otherSpan := sampledContext(traceID, "00f067aa0ba902b7")
	otherTrace := sampledContext("11111111111111111111111111111111", spanID)
	emit(lp, inSpan, otellog.SeverityInfo, "accepted quote q-1")                                     // trace_id and span_id metadata
	emit(lp, otherSpan, otellog.SeverityInfo, "priced quote q-1")                                    // same trace, another span
	emit(lp, context.Background(), otellog.SeverityWarn, "retry for trace "+traceID+" span "+spanID) // ids in the line only
	emit(lp, otherTrace, otellog.SeverityInfo, "unrelated quote q-2")                                // another trace
	require.NoError(t, lp.ForceFlush(ctxT(t)))

	lines := func(query string) []string {
		t.Helper()
		now := time.Now()
		code, body := getJSON(t, s.url("/loki/api/v1/query_range?"+q(
			"query", query, "limit", "1000", "direction", "backward",
			"start", strconv.FormatInt(now.Add(-30*time.Minute).UnixNano(), 10),
			"end", strconv.FormatInt(now.Add(time.Minute).UnixNano(), 10), "step", "1")),
			"X-Loki-Response-Encoding-Flags", "categorize-labels")
		require.Equal(t, http.StatusOK, code, "%s: %v", query, body)
		var out []string
		for _, st := range body["data"].(map[string]any)["result"].([]any) {
			for _, v := range st.(map[string]any)["values"].([]any) {
				out = append(out, v.([]any)[1].(string))
			}
		}
		return out
	}
	tags := `{service_name="quote", service_namespace="shop"}`
	// filterByTraceID, as createSpanLink.tsx writes it (two blanks after __line__, OR).
	byTrace := tags + " | label_format log_line_contains_trace_id=`{{ contains \"" + traceID + "\" __line__  }}`" +
		` | log_line_contains_trace_id="true" OR trace_id="` + traceID + `"`
	require.ElementsMatch(t, []string{"accepted quote q-1", "priced quote q-1", "retry for trace " + traceID + " span " + spanID}, lines(byTrace))
	// filterByTraceID and filterBySpanID.
	bySpan := byTrace + " | label_format log_line_contains_span_id=`{{ contains \"" + spanID + "\" __line__  }}`" +
		` | log_line_contains_span_id="true" OR span_id="` + spanID + `"`
	require.ElementsMatch(t, []string{"accepted quote q-1", "retry for trace " + traceID + " span " + spanID}, lines(bySpan))
	// The same with the lower-case or of earlier Grafana versions.
	require.ElementsMatch(t, lines(bySpan), lines(strings.ReplaceAll(bySpan, " OR ", " or ")))
	// The newer form that parses the line first.
	require.ElementsMatch(t, []string{"accepted quote q-1", "priced quote q-1"},
		lines(tags+` | logfmt | json | drop __error__ | trace_id="`+traceID+`"`))
}
