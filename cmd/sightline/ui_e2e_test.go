package main_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestWebUI checks that the binary serves the web UI at / (its assets with
// their content types, index.html for client routes) without taking any
// route from the APIs, and that every API call the UI's pages make, with
// the parameters they send, answers in the shape the pages read, on data
// sent by the OpenTelemetry SDK.
func TestWebUI(t *testing.T) {
	s := startServer(t, t.TempDir())
	traceID := checkoutTrace(t, s)

	get := func(path string, header ...string) (int, http.Header, string) {
		t.Helper()
		code, h, b := doHTTP(t, http.MethodGet, s.url(path), nil, header...)
		return code, h, string(b)
	}

	t.Run("assets", func(t *testing.T) {
		f := func(path string, code int, contentType, contains string) {
			t.Helper()
			c, h, body := get(path)
			require.Equal(t, code, c, path)
			require.True(t, strings.HasPrefix(h.Get("Content-Type"), contentType), "%s: Content-Type %q", path, h.Get("Content-Type"))
			require.Contains(t, body, contains, path)
		}
		f("/", 200, "text/html", `<script src="/app.js">`)
		f("/app.js", 200, "text/javascript", "X-Scope-OrgID")
		f("/app.css", 200, "text/css", ".waterfall")
		// Client routes live in the fragment, but a path that is no
		// route gets the page too, so an old or hand-typed link opens it.
		f("/logs", 200, "text/html", `<div id="app">`)
		// The APIs' paths are as before: the UI takes none of them.
		f("/api/nope", 404, "text/plain", "404 page not found")
		f("/loki/api/v1/nope", 404, "text/plain", "")
		f("/debug/pprof/", 404, "text/plain", "404 page not found")
		f("/-/healthy", 200, "text/plain", "Healthy")
		f("/metrics", 200, "text/plain", "sightline_http_request_duration_seconds")
		f("/api/v1/status/buildinfo", 200, "application/json", `"version"`)
		code, _ := post(t, s.url("/"), "text/plain", nil)
		require.Equal(t, http.StatusNotFound, code, "POST / is not the UI's")
	})

	now := time.Now()
	start, end := now.Add(-time.Hour), now.Add(time.Minute)
	ns := func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) }
	decode := func(body string) map[string]any {
		t.Helper()
		var m map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &m), body)
		return m
	}

	t.Run("logs page", func(t *testing.T) {
		// The lines, as LogsPage asks for them.
		code, _, body := get("/loki/api/v1/query_range?"+q("query", `{service_name="payment"}`, "limit", "100", "direction", "backward", "start", ns(start), "end", ns(end)),
			"X-Loki-Response-Encoding-Flags", "categorize-labels")
		require.Equal(t, 200, code, body)
		res := decode(body)["data"].(map[string]any)["result"].([]any)
		require.Len(t, res, 1)
		v := res[0].(map[string]any)["values"].([]any)[0].([]any)
		require.Equal(t, "payment failed: card declined", v[1])
		require.Equal(t, traceID, v[2].(map[string]any)["structuredMetadata"].(map[string]any)["trace_id"])
		// The volume histogram, with the query of loki.ts volumeQuery.
		code, _, body = get("/loki/api/v1/query_range?" + q("query", `sum by (level, detected_level) (count_over_time({service_name=~"payment|checkout"} | drop __error__ [36s]))`,
			"start", ns(start), "end", ns(end), "step", "36"))
		require.Equal(t, 200, code, body)
		levels := map[string]bool{}
		for _, r := range decode(body)["data"].(map[string]any)["result"].([]any) {
			levels[r.(map[string]any)["metric"].(map[string]any)["detected_level"].(string)] = true
		}
		require.Equal(t, map[string]bool{"info": true, "error": true}, levels)

		// The search mode: the native search and its histogram.
		code, _, body = get("/api/v1/logs/search?" + q("query", `"card declined"`, "limit", "5000", "direction", "backward", "start", ns(start), "end", ns(end)))
		require.Equal(t, 200, code, body)
		recs := decode(body)["data"].(map[string]any)["records"].([]any)
		require.Len(t, recs, 1)
		require.Equal(t, "payment failed: card declined", recs[0].(map[string]any)["body"])
		require.Equal(t, traceID, recs[0].(map[string]any)["traceId"])
		code, _, body = get("/api/v1/logs/histogram?" + q("query", `"card declined"`, "start", ns(start), "end", ns(end), "step", "36s"))
		require.Equal(t, 200, code, body)
		total := 0.0
		for _, b := range decode(body)["data"].(map[string]any)["buckets"].([]any) {
			total += b.(map[string]any)["count"].(float64)
		}
		require.Equal(t, 1.0, total)
	})

	t.Run("traces and correlate pages", func(t *testing.T) {
		code, _, body := get("/api/search?" + q("q", `{ resource.service.name = "payment" && status = error }`, "limit", "20",
			"start", strconv.FormatInt(start.Unix(), 10), "end", strconv.FormatInt(end.Unix(), 10)))
		require.Equal(t, 200, code, body)
		traces := decode(body)["traces"].([]any)
		require.Len(t, traces, 1)
		// Tempo's search leaves out leading zeros (the UI puts them back,
		// fullTraceID): one trace ID in sixteen starts with one.
		require.Equal(t, strings.TrimLeft(traceID, "0"), traces[0].(map[string]any)["traceID"])

		code, _, body = get("/api/traces/" + traceID)
		require.Equal(t, 200, code, body)
		require.Len(t, decode(body)["batches"].([]any), 3) // one a service

		code, _, body = get("/api/v1/correlate/" + traceID)
		require.Equal(t, 200, code, body)
		data := decode(body)["data"].(map[string]any)
		require.Len(t, data["trace"].(map[string]any)["spans"].([]any), 5)
		require.Len(t, data["logs"].([]any), 2)
		for _, l := range data["logs"].([]any) {
			require.NotEmpty(t, l.(map[string]any)["spanId"], "each line goes under its span")
		}
		// Span details: every span has its events and links as lists.
		var events []string
		for _, sp := range data["trace"].(map[string]any)["spans"].([]any) {
			m := sp.(map[string]any)
			require.IsType(t, []any{}, m["links"])
			for _, e := range m["events"].([]any) {
				events = append(events, e.(map[string]any)["name"].(string))
			}
		}
		require.Equal(t, []string{"fraud check"}, events)
	})

	t.Run("metrics page", func(t *testing.T) {
		require.NoError(t, remoteWrite(t, s, "", series("ui_requests_total", now, 1, "job", "shop")))
		// The editor's first completion list is every metric name.
		code, _, body := get("/api/v1/label/__name__/values")
		require.Equal(t, 200, code, body)
		require.Contains(t, decode(body)["data"], "ui_requests_total")
		for _, p := range []string{
			"/api/v1/query_range?" + q("query", "ui_requests_total", "start", strconv.FormatInt(start.Unix(), 10), "end", strconv.FormatInt(end.Unix(), 10), "step", "14"),
			"/api/v1/query_exemplars?" + q("query", "ui_requests_total", "start", strconv.FormatInt(start.Unix(), 10), "end", strconv.FormatInt(end.Unix(), 10)),
			"/api/v1/labels?" + q("match[]", "ui_requests_total"),
			"/api/v1/label/job/values",
		} {
			code, _, body := get(p)
			require.Equal(t, 200, code, "%s: %s", p, body)
		}
	})

	t.Run("alerts and status pages", func(t *testing.T) {
		for _, p := range []string{"/api/v1/rules", "/api/v1/alerts", "/api/v1/status/runtimeinfo", "/api/v1/status/tsdb", "/api/v1/status/flags", "/api/v1/status/sightline"} {
			code, _, body := get(p)
			require.Equal(t, 200, code, "%s: %s", p, body)
			require.Equal(t, "success", decode(body)["status"], p)
		}
		// A silence as AlertsPage creates it, then expired as it does.
		sil := `{"matchers":[{"name":"alertname","value":"HighLatency","isRegex":false,"isEqual":true}],"startsAt":"` + now.UTC().Format(time.RFC3339) +
			`","endsAt":"` + now.Add(2*time.Hour).UTC().Format(time.RFC3339) + `","createdBy":"sightline-ui","comment":"-"}`
		code, body := post(t, s.url("/api/v2/silences"), "application/json", []byte(sil))
		require.Equal(t, 200, code, body)
		var created struct{ SilenceID string }
		require.NoError(t, json.Unmarshal([]byte(body), &created))
		code, _, body = get("/api/v2/silences")
		require.Equal(t, 200, code, body)
		require.Contains(t, body, created.SilenceID)
		code, _, _ = doHTTP(t, http.MethodDelete, s.url("/api/v2/silence/"+created.SilenceID), nil)
		require.Equal(t, 200, code)
	})
}
