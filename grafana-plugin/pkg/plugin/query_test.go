package plugin

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/stretchr/testify/require"
)

func TestParseQueryDefaults(t *testing.T) {
	q, err := parseQuery(json.RawMessage(`{"expr":" up "}`), "")
	require.NoError(t, err)
	require.Equal(t, Query{QueryType: TypeMetrics, Expr: "up", Format: "time_series"}, q)

	q, err = parseQuery(json.RawMessage(`{"expr":"x"}`), TypeLogs)
	require.NoError(t, err)
	require.Equal(t, Query{QueryType: TypeLogs, Expr: "x", LogsMode: "logql", Direction: "backward", Limit: defaultLogsLimit}, q)

	q, err = parseQuery(json.RawMessage(`{"queryType":"traces"}`), "")
	require.NoError(t, err)
	require.Equal(t, Query{QueryType: TypeTraces, TracesMode: "search", Limit: defaultTracesLimit}, q)
}

func TestRangeStep(t *testing.T) {
	now := time.Now()
	dq := backend.DataQuery{TimeRange: backend.TimeRange{From: now.Add(-time.Hour), To: now}, Interval: 15 * time.Second, MaxDataPoints: 100}
	require.Equal(t, 36*time.Second, rangeStep(Query{}, dq), "an hour in 100 points")
	require.Equal(t, time.Minute, rangeStep(Query{Step: "1m"}, dq))
	dq.TimeRange.From = now.Add(-365 * 24 * time.Hour)
	require.GreaterOrEqual(t, rangeStep(Query{Step: "1s"}, dq), 365*24*time.Hour/maxPoints, "at most maxPoints points")
}

func TestPadTraceID(t *testing.T) {
	require.Equal(t, "0347ff04ca992fac8f95d6a3ccfabebc", padTraceID("347ff04ca992fac8f95d6a3ccfabebc"))
	require.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", padTraceID("4bf92f3577b34da6a3ce929d0e0e4736"))
}

func TestSeriesName(t *testing.T) {
	m := map[string]string{"__name__": "http_requests_total", "job": "api", "code": "500"}
	require.Equal(t, `http_requests_total{code="500", job="api"}`, seriesName(m, Query{}))
	require.Equal(t, "api 500", seriesName(m, Query{LegendFormat: "{{job}} {{ code }}"}))
	require.Equal(t, "sum(x)", seriesName(map[string]string{}, Query{Expr: "sum(x)"}))
}

// FuzzParseQuery: no query JSON, as Grafana or a user's dashboard JSON
// may hold, crashes the plugin; what parses is valid for its type.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{`{"queryType":"logs","expr":"x","limit":5}`, `{"queryType":"metrics","step":"1e400"}`,
		`{"queryType":"traces","tracesMode":"traceId"}`, `{"queryType":"logsVolume","logsMode":"search"}`, `{"step":"0.001"}`, `[]`, `{"limit":-1}`} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, raw []byte, queryType string) {
		q, err := parseQuery(raw, queryType)
		if err != nil {
			return
		}
		switch q.QueryType {
		case TypeLogs, TypeLogsVolume:
			require.True(t, q.Limit > 0 && q.Limit <= maxLogsLimit)
		case TypeTraces:
			require.True(t, q.Limit > 0 && q.Limit <= maxTracesLimit)
		case TypeMetrics:
			step, err := parseStep(q.Step)
			require.True(t, q.Step == "" || (err == nil && step > 0))
		}
		_, _ = tailQuery("tail/x", raw)
	})
}
