package logsapi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// drilldownAPI is an API over a store holding recs, the first half flushed
// into a segment and the rest in the head.
func drilldownAPI(t *testing.T, recs []*logstore.Record) http.Handler {
	t.Helper()
	s, err := logstore.Open(t.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	half := len(recs) / 2
	_, err = s.Append(context.Background(), recs[:half])
	require.NoError(t, err)
	require.NoError(t, s.Flush())
	_, err = s.Append(context.Background(), recs[half:])
	require.NoError(t, err)
	return New(s, nil, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry()).Handler()
}

// get answers path?params (pairs) with its status and decoded body.
func get(t *testing.T, h http.Handler, path string, params ...string) (int, map[string]any) {
	t.Helper()
	v := url.Values{}
	for i := 0; i < len(params); i += 2 {
		v.Set(params[i], params[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path+"?"+v.Encode(), nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		body = map[string]any{"raw": rec.Body.String()}
	}
	return rec.Code, body
}

func rec(ts time.Time, service, ns, sev, line string, attrs ...string) *logstore.Record {
	r := &logstore.Record{Timestamp: ts.UnixNano(), Body: line, SeverityText: sev,
		Resource: []record.KV{{Key: "service.name", Value: service}, {Key: "k8s.namespace.name", Value: ns}}}
	for i := 0; i < len(attrs); i += 2 {
		r.Attributes = append(r.Attributes, record.KV{Key: attrs[i], Value: attrs[i+1]})
	}
	return r
}

func ns(t time.Time) string { return fmt.Sprint(t.UnixNano()) }

// TestVolume: index/volume sums the bytes of the lines in [start, end) by
// the labels the selector names (or targetLabels), largest first;
// index/volume_range does so per step, the point at t holding (t-step, t]
// as a metric query would.
func TestVolume(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	h := drilldownAPI(t, []*logstore.Record{
		rec(t0.Add(time.Second), "a", "prod", "info", "0123456789"),
		rec(t0.Add(2*time.Second), "a", "dev", "error", "0123456789"),
		rec(t0.Add(30*time.Second), "b", "prod", "info", "01234"),
		rec(t0.Add(70*time.Second), "a", "prod", "info", "0123456789"),
		rec(t0.Add(-time.Second), "a", "prod", "info", "before start"),
		rec(t0.Add(120*time.Second), "a", "prod", "info", "at end"),
	})
	vector := func(params ...string) map[string]string {
		t.Helper()
		code, body := get(t, h, "/loki/api/v1/index/volume", append([]string{"start", ns(t0), "end", ns(t0.Add(120 * time.Second))}, params...)...)
		require.Equal(t, http.StatusOK, code, body)
		data := body["data"].(map[string]any)
		require.Equal(t, "vector", data["resultType"])
		out := map[string]string{}
		var order []string
		for _, x := range data["result"].([]any) {
			s := x.(map[string]any)
			m, _ := json.Marshal(s["metric"])
			v := s["value"].([]any)
			require.EqualValues(t, t0.Add(120*time.Second).Unix(), v[0])
			out[string(m)] = v[1].(string)
			order = append(order, string(m))
		}
		if len(order) > 1 {
			out["order"] = strings.Join(order, " ")
		}
		return out
	}
	// Logs Drilldown's service list (src/services/datasource.ts getVolume).
	require.Equal(t, map[string]string{`{"service_name":"a"}`: "30", `{"service_name":"b"}`: "5",
		"order": `{"service_name":"a"} {"service_name":"b"}`}, vector("query", `{service_name=~".+"}`, "limit", "5000"))
	require.Equal(t, map[string]string{`{"service_name":"a"}`: "30"}, vector("query", `{service_name=~".+"}`, "limit", "1"))
	require.Equal(t, map[string]string{`{"k8s_namespace_name":"dev","service_name":"a"}`: "10", `{"k8s_namespace_name":"prod","service_name":"a"}`: "20",
		"order": `{"k8s_namespace_name":"prod","service_name":"a"} {"k8s_namespace_name":"dev","service_name":"a"}`},
		vector("query", `{service_name="a", k8s_namespace_name=~".+"}`))
	require.Equal(t, map[string]string{`{"k8s_namespace_name":"prod"}`: "25", `{"k8s_namespace_name":"dev"}`: "10",
		"order": `{"k8s_namespace_name":"prod"} {"k8s_namespace_name":"dev"}`},
		vector("query", `{service_name=~".+"}`, "targetLabels", "k8s_namespace_name"))
	require.Equal(t, map[string]string{`{"k8s_namespace_name":""}`: "35", `{"service_name":""}`: "35",
		"order": `{"k8s_namespace_name":""} {"service_name":""}`},
		vector("query", `{service_name=~".+"}`, "targetLabels", "service_name,k8s_namespace_name", "aggregateBy", "labels"))

	code, body := get(t, h, "/loki/api/v1/index/volume_range", "query", `{service_name=~".+"}`, "start", ns(t0), "end", ns(t0.Add(120*time.Second)), "step", "60")
	require.Equal(t, http.StatusOK, code, body)
	data := body["data"].(map[string]any)
	require.Equal(t, "matrix", data["resultType"])
	got := map[string][]any{}
	for _, x := range data["result"].([]any) {
		s := x.(map[string]any)
		got[s["metric"].(map[string]any)["service_name"].(string)] = s["values"].([]any)
	}
	at := func(d time.Duration, v string) []any { return []any{float64(t0.Add(d).Unix()), v} }
	require.Equal(t, map[string][]any{
		// "before start" (12 bytes) is in (start-step, start]; "at end" (6)
		// in (end-step, end].
		"a": {at(0, "12"), at(60*time.Second, "20"), at(120*time.Second, "16")},
		"b": {at(60*time.Second, "5")},
	}, got)

	for _, bad := range [][]string{
		{"query", ""},
		{"query", `{service_name="a"}`, "aggregateBy", "streams"},
		{"query", `{service_name="a"}`, "targetLabels", "service.name"},
		{"query", `{service_name="a"}`, "limit", "-1"},
		{"query", `sum(rate({service_name="a"}[1m]))`},
		{"query", `{service_name="a"} |= "x"`},
	} {
		code, body := get(t, h, "/loki/api/v1/index/volume", bad...)
		require.Equal(t, http.StatusBadRequest, code, "%v: %v", bad, body)
	}
	code, body = get(t, h, "/loki/api/v1/index/volume_range", "query", `{service_name="a"}`, "start", "0", "end", "100000", "step", "1")
	require.Equal(t, http.StatusBadRequest, code, body)
}

// TestDetectedLabels: the stream labels of the matching streams with their
// cardinality, but for those whose values are all IDs (numbers, UUIDs)
// unless they are booleans or a static label (pod).
func TestDetectedLabels(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	pushed := func(job, id, shard, code, pod string) *logstore.Record {
		return &logstore.Record{Timestamp: t0.UnixNano(), Body: "x", SeverityText: "info", Resource: []record.KV{
			{Key: logstore.StreamLabelsAttr, Value: "true"}, {Key: "job", Value: job}, {Key: "instance_id", Value: id},
			{Key: "shard", Value: shard}, {Key: "code", Value: code}, {Key: "pod", Value: pod},
		}}
	}
	h := drilldownAPI(t, []*logstore.Record{
		pushed("api", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "0", "200", "1"),
		pushed("api", "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "1", "404", "2"),
		pushed("web", "{6ba7b811-9dad-11d1-80b4-00c04fd430c8}", "1", "500", "3"),
	})
	// Logs Drilldown (src/services/datasource.ts getDetectedLabels): ISO
	// times, and an empty query when no label is selected.
	code, body := get(t, h, "/loki/api/v1/detected_labels", "query", "",
		"start", t0.Add(-time.Hour).UTC().Format("2006-01-02T15:04:05.000Z"), "end", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []any{
		map[string]any{"label": "detected_level", "cardinality": 1.0},
		map[string]any{"label": "job", "cardinality": 2.0},
		map[string]any{"label": "pod", "cardinality": 3.0},
		map[string]any{"label": "service_name", "cardinality": 1.0},
		map[string]any{"label": "severity", "cardinality": 1.0},
		map[string]any{"label": "shard", "cardinality": 2.0},
	}, body["detectedLabels"])
	code, body = get(t, h, "/loki/api/v1/detected_labels", "query", `{job="web"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body["detectedLabels"], map[string]any{"label": "job", "cardinality": 1.0})
	code, body = get(t, h, "/loki/api/v1/detected_labels", "query", `{job="none"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []any{}, body["detectedLabels"])
	code, _ = get(t, h, "/loki/api/v1/detected_labels", "query", `{job=`)
	require.Equal(t, http.StatusBadRequest, code)

	for v, want := range map[string]bool{
		"1b4e28ba-2fa1-11d2-883f-0016d3cca427": true, "{1b4e28ba-2fa1-11d2-883f-0016d3cca427}": true,
		"urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427": true, "1b4e28ba2fa111d2883f0016d3cca427": true,
		"1b4e28ba-2fa1-11d2-883f-0016d3cca42g": false, "1b4e28ba+2fa1-11d2-883f-0016d3cca427": false, "api": false,
	} {
		require.Equal(t, want, isUUID(v), v)
	}
}

// TestDetectedFieldValues: the values field detection finds for a field:
// structured metadata, detected_level, and JSON and logfmt fields.
func TestDetectedFieldValues(t *testing.T) {
	t0 := time.Now().Add(-time.Minute)
	h := drilldownAPI(t, []*logstore.Record{
		rec(t0, "api", "prod", "info", "level=info status=200 path=/a", "user", "alice"),
		rec(t0.Add(time.Second), "api", "prod", "error", `{"status":404,"user":"bob"}`),
		rec(t0.Add(2*time.Second), "web", "prod", "warn", "status=503"),
	})
	values := func(name string, params ...string) []any {
		t.Helper()
		// The Loki data source (src/LanguageProvider.ts
		// fetchDetectedLabelValues): start and end in nanoseconds,
		// limit 1000, query only when there is one.
		code, body := get(t, h, "/loki/api/v1/detected_field/"+name+"/values",
			append([]string{"start", ns(t0.Add(-time.Hour)), "end", ns(time.Now()), "limit", "1000"}, params...)...)
		require.Equal(t, http.StatusOK, code, body)
		return body["values"].([]any)
	}
	api := []string{"query", `{service_name="api"}`}
	require.Equal(t, []any{"200", "404"}, values("status", api...))
	require.Equal(t, []any{"alice", "bob"}, values("user", api...))
	require.Equal(t, []any{"error", "info"}, values("detected_level", api...))
	require.Equal(t, []any{"200", "404", "503"}, values("status"), "no query: every stream")
	require.Len(t, values("status", "limit", "2"), 2)
	require.Equal(t, []any{}, values("nothing", api...))
	code, _ := get(t, h, "/loki/api/v1/detected_field/status/values", "query", `rate({service_name="api"}[1m])`)
	require.Equal(t, http.StatusBadRequest, code)
}

// TestPatterns: the patterns of the lines by detected level, each with its
// line count per step, largest first.
func TestPatterns(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0) // a multiple of 10 s
	var recs []*logstore.Record
	for i := range 6 {
		recs = append(recs, rec(t0.Add(time.Duration(5+10*i)*time.Second), "api", "prod", "info", fmt.Sprintf("user %d logged in", i)))
	}
	for i := range 3 {
		recs = append(recs, rec(t0.Add(time.Duration(1+i)*time.Second), "api", "prod", "error", fmt.Sprintf("connection refused to 10.0.0.%d", i)))
	}
	recs = append(recs, rec(t0.Add(time.Second), "web", "prod", "info", "user 7 logged in"))
	h := drilldownAPI(t, recs)
	iso := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
	// Logs Drilldown (src/services/datasource.ts getPatterns): ISO times and
	// the panel's interval as step.
	code, body := get(t, h, "/loki/api/v1/patterns", "query", `{service_name="api"}`, "start", iso(t0), "end", iso(t0.Add(time.Minute)), "step", "20s")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "success", body["status"])
	s := func(d time.Duration, n int) []any { return []any{float64(t0.Add(d).Unix()), float64(n)} }
	require.Equal(t, []any{
		map[string]any{"pattern": "user <_> logged in", "level": "info", "samples": []any{s(0, 2), s(20*time.Second, 2), s(40*time.Second, 2)}},
		map[string]any{"pattern": "connection refused to <_>", "level": "error", "samples": []any{s(0, 3)}},
	}, body["data"])

	// Each pattern is a LogQL pattern filter finding its lines, as Logs
	// Drilldown's pattern "include" button uses it (|> "<pattern>").
	for pattern, n := range map[string]int{"user <_> logged in": 6, "connection refused to <_>": 3} {
		code, body := get(t, h, "/loki/api/v1/query_range", "query", `{service_name="api"} |> "`+pattern+`"`, "start", ns(t0), "end", ns(t0.Add(time.Minute)), "limit", "100")
		require.Equal(t, http.StatusOK, code, body)
		lines := 0
		for _, st := range body["data"].(map[string]any)["result"].([]any) {
			lines += len(st.(map[string]any)["values"].([]any))
		}
		require.Equal(t, n, lines, pattern)
	}

	// A step under 10 s is 10 s; a pipeline filters the lines.
	code, body = get(t, h, "/loki/api/v1/patterns", "query", `{service_name="api"} != "refused"`, "start", iso(t0), "end", iso(t0.Add(time.Minute)), "step", "1s")
	require.Equal(t, http.StatusOK, code, body)
	data := body["data"].([]any)
	require.Len(t, data, 1)
	require.Len(t, data[0].(map[string]any)["samples"], 6)

	for _, bad := range [][]string{{"query", ""}, {"query", `{service_name="api"}`, "step", "-1"}, {"query", `count_over_time({service_name="api"}[1m])`}} {
		code, body := get(t, h, "/loki/api/v1/patterns", bad...)
		require.Equal(t, http.StatusBadRequest, code, "%v: %v", bad, body)
	}
}
