package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protowire"
)

// encodeURIComponent escapes as the browser function Grafana builds its
// request parameters with (spaces as %20, not +).
func encodeURIComponent(s string) string {
	return strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
}

// tempoTagValues asks for the values of tag as Grafana's Tempo datasource
// does for autocomplete (grafana-tempo-datasource src/language_provider.ts
// getOptionsV2: limit, q when there is a query, the tag again; proxied as
// it is by pkg/tempo/tempo.go handleTagValues to
// api/v2/search/tag/<tag>/values). It returns the values in order.
func tempoTagValues(t *testing.T, s *server, tag, q string) []string {
	t.Helper()
	params := "limit=5000"
	if q != "" {
		params += "&q=" + encodeURIComponent(q)
	}
	params += "&tag=" + encodeURIComponent(tag)
	code, body := getJSON(t, s.url("/api/v2/search/tag/"+encodeURIComponent(tag)+"/values?"+params))
	require.Equal(t, http.StatusOK, code, body)
	out := []string{}
	for _, v := range body["tagValues"].([]any) {
		out = append(out, v.(map[string]any)["value"].(string))
	}
	return out
}

// tempoTagNames reads /api/v2/search/tags (or, v1, /api/search/tags) with
// Grafana's limit (src/language_provider.ts fetchTags) and a q; Grafana's
// datasource does not send q there yet, Tempo's API documents it. It
// returns the names by scope.
func tempoTagNames(t *testing.T, s *server, path, q string) map[string][]string {
	t.Helper()
	code, body := getJSON(t, s.url(path+"?limit=5000&q="+encodeURIComponent(q)))
	require.Equal(t, http.StatusOK, code, body)
	out := map[string][]string{}
	add := func(scope string, tags any) {
		for _, x := range tags.([]any) {
			out[scope] = append(out[scope], x.(string))
		}
	}
	if names, ok := body["tagNames"]; ok {
		add("", names)
		return out
	}
	for _, x := range body["scopes"].([]any) {
		sc := x.(map[string]any)
		if sc["name"] != "intrinsic" {
			add(sc["name"].(string), sc["tags"])
		}
	}
	return out
}

// TestGrafanaTagAutocomplete: tag values and names narrowed by q, the
// TraceQL filter Grafana sends with them, list only what the spans that
// match it have.
func TestGrafanaTagAutocomplete(t *testing.T) {
	s := startServer(t, t.TempDir())
	api := newTraceService(t, s, "grpc", "api")
	db := newTraceService(t, s, "http", "db")
	for _, name := range []string{"GET /users", "POST /users"} {
		ctx, srv := api.Tracer("shop").Start(context.Background(), name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", strings.Fields(name)[0])))
		_, query := db.Tracer("shop").Start(ctx, "SELECT users", trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("db.system", "postgresql")))
		query.End()
		srv.End()
	}
	for _, tp := range []*sdktrace.TracerProvider{api, db} {
		require.NoError(t, tp.ForceFlush(ctxT(t)))
	}

	// The search builder's span name field, with the service chosen in
	// another field (src/SearchTraceQLEditor/TraceQLSearch.tsx
	// generateQueryWithoutFilter, src/language_provider.ts
	// generateQueryFromFilters).
	require.Equal(t, []string{"GET /users", "POST /users", "SELECT users"}, tempoTagValues(t, s, "name", ""))
	require.Equal(t, []string{"GET /users", "POST /users"}, tempoTagValues(t, s, "name", `{resource.service.name="api"}`))
	require.Equal(t, []string{"SELECT users"}, tempoTagValues(t, s, "name", `{resource.service.name="db"}`))
	require.Equal(t, []string{"api"}, tempoTagValues(t, s, "resource.service.name", `{span.http.request.method="POST"}`))
	require.Equal(t, []string{"POST"}, tempoTagValues(t, s, "span.http.request.method", `{name=~"POST.*"}`))
	require.Equal(t, []string{"api"}, tempoTagValues(t, s, "rootServiceName", `{name="SELECT users"}`))
	// The TraceQL editor's autocomplete sends the text being typed
	// (src/traceql/autocomplete.ts getTagValues).
	require.Equal(t, []string{"SELECT users"}, tempoTagValues(t, s, "name", `{ resource.service.name = "db" && name = }`))
	require.Equal(t, []string{"GET /users", "POST /users", "SELECT users"}, tempoTagValues(t, s, "name", `{ resource.service.name = }`))

	require.Equal(t, map[string][]string{"resource": {"service.name", "service.namespace"}, "span": {"db.system", "http.request.method"}},
		tempoTagNames(t, s, "/api/v2/search/tags", ""))
	require.Equal(t, map[string][]string{"resource": {"service.name", "service.namespace"}, "span": {"db.system"}},
		tempoTagNames(t, s, "/api/v2/search/tags", `{resource.service.name="db"}`))
	require.Equal(t, map[string][]string{"": {"http.request.method", "service.name", "service.namespace"}},
		tempoTagNames(t, s, "/api/search/tags", `{resource.service.name="api"}`))
}

// grafanaTraceByID asks for a trace as Grafana's Tempo datasource does
// (grafana-tempo-datasource pkg/tempo/trace.go createRequest): the v2 or
// v1 path, start and end in seconds when the query has a time range, and
// Accept: application/protobuf. It returns the status and the body.
func grafanaTraceByID(t *testing.T, s *server, version, id string, start, end time.Time) (int, []byte) {
	t.Helper()
	path := "/api/traces/" + id
	if version == "v2" {
		path = "/api/v2/traces/" + id
	}
	return getBody(t, s.url(path+"?"+q("start", fmt.Sprint(start.Unix()), "end", fmt.Sprint(end.Unix()))), "application/protobuf")
}

// traceByIDSpans reads the spans of a tempopb.TraceByIDResponse as Grafana
// does (tr.Trace.ResourceSpans): its field 1 is the trace, which is OTLP's
// TracesData on the wire.
func traceByIDSpans(t *testing.T, b []byte) int {
	t.Helper()
	var trace []byte
	if traces := protoField(t, b, 1); len(traces) > 0 {
		trace = traces[len(traces)-1]
	}
	td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(trace)
	require.NoError(t, err)
	return td.SpanCount()
}

// protoField returns the values of field num in the protobuf message b:
// the contents of length-delimited values, the raw bytes of others.
func protoField(t *testing.T, b []byte, num protowire.Number) [][]byte {
	t.Helper()
	var out [][]byte
	for len(b) > 0 {
		got, typ, n := protowire.ConsumeTag(b)
		require.GreaterOrEqual(t, n, 0)
		b = b[n:]
		n = protowire.ConsumeFieldValue(got, typ, b)
		require.GreaterOrEqual(t, n, 0)
		if got == num {
			v := b[:n]
			if typ == protowire.BytesType {
				v, _ = protowire.ConsumeBytes(v)
			}
			out = append(out, v)
		}
		b = b[n:]
	}
	return out
}

// TestGrafanaTraceNotFound: a trace ID no span has answers as Tempo's do,
// so that Grafana says the trace was not found. Grafana asks v2 first and
// falls back to v1 only on a 404 (pkg/tempo/trace.go getTrace); Tempo's v2
// answers 200 with an empty trace, which Grafana reports as "trace with id
// ... not found", and its v1 a 404 with an empty body.
func TestGrafanaTraceNotFound(t *testing.T) {
	s := startServer(t, t.TempDir())
	tp := newTraceService(t, s, "grpc", "api")
	_, span := tp.Tracer("shop").Start(context.Background(), "GET /users")
	span.End()
	require.NoError(t, tp.ForceFlush(ctxT(t)))
	known := span.SpanContext().TraceID().String()
	unknown := "4bf92f3577b34da6a3ce929d0e0e4736"
	start, end := time.Now().Add(-time.Hour), time.Now().Add(time.Minute)

	code, body := grafanaTraceByID(t, s, "v2", known, start, end)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Equal(t, 1, traceByIDSpans(t, body))
	code, body = grafanaTraceByID(t, s, "v2", unknown, start, end)
	require.Equal(t, http.StatusOK, code, string(body))
	require.Zero(t, traceByIDSpans(t, body))

	code, body = grafanaTraceByID(t, s, "v1", known, start, end)
	require.Equal(t, http.StatusOK, code, string(body))
	code, body = grafanaTraceByID(t, s, "v1", unknown, start, end)
	require.Equal(t, http.StatusNotFound, code)
	require.Empty(t, body)
	// JSON, as curl and Tempo's own clients ask.
	code, js := getJSON(t, s.url("/api/v2/traces/"+unknown))
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, map[string]any{"trace": map[string]any{}, "metrics": map[string]any{}}, js)
}

// drilldownSpanAttributes searches as Grafana's Tempo datasource does for a
// Traces Drilldown table panel (queryType traceql, tableType raw, limit 200,
// spss 20, as grafana/traces-drilldown's
// src/components/Explore/TracesByService/Tabs/Structure/StructureScene.tsx
// buildQuery sends them) and returns, per matched span name, the span's
// attributes as key = JSON value.
func drilldownSpanAttributes(t *testing.T, s *server, query string) map[string]map[string]string {
	t.Helper()
	now := time.Now()
	code, body := getJSON(t, s.url("/api/search?q="+encodeURIComponent(query)+"&limit=200&spss=20"+
		fmt.Sprintf("&start=%d&end=%d", now.Add(-time.Hour).Unix(), now.Add(time.Minute).Unix())))
	require.Equal(t, http.StatusOK, code, body)
	out := map[string]map[string]string{}
	for _, tr := range body["traces"].([]any) {
		for _, set := range tr.(map[string]any)["spanSets"].([]any) {
			for _, sp := range set.(map[string]any)["spans"].([]any) {
				span := sp.(map[string]any)
				attrs := map[string]string{}
				list, _ := span["attributes"].([]any) // left out when there are none
				for _, a := range list {
					kv := a.(map[string]any)
					v, err := json.Marshal(kv["value"])
					require.NoError(t, err)
					attrs[kv["key"].(string)] = string(v)
				}
				out[span["name"].(string)] = attrs
			}
		}
	}
	return out
}

// TestGrafanaDrilldownSelect: | select(...) returns the selected fields
// among each matched span's attributes; the nested set numbers Traces
// Drilldown selects, which Sightline does not keep, are left out rather
// than failing the query.
func TestGrafanaDrilldownSelect(t *testing.T) {
	s := startServer(t, t.TempDir())
	api := newTraceService(t, s, "grpc", "api")
	db := newTraceService(t, s, "http", "db")
	// GET /users (api, server, error) > load users (api, internal, error)
	// > SELECT users (db, server).
	ctx, srv := api.Tracer("shop").Start(context.Background(), "GET /users", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "GET"), attribute.Int("http.response.status_code", 500)))
	ctx, child := api.Tracer("shop").Start(ctx, "load users", trace.WithAttributes(attribute.String("db.system", "postgresql")))
	_, query := db.Tracer("shop").Start(ctx, "SELECT users", trace.WithSpanKind(trace.SpanKindServer))
	query.End()
	child.SetStatus(codes.Error, "timeout")
	child.End()
	srv.SetStatus(codes.Error, "")
	srv.End()
	for _, tp := range []*sdktrace.TracerProvider{api, db} {
		require.NoError(t, tp.ForceFlush(ctxT(t)))
	}

	got := drilldownSpanAttributes(t, s, `{ status = error } | select(status, resource.service.name, name, span.http.request.method, span.http.response.status_code, nestedSetParent, nestedSetLeft, nestedSetRight)`)
	require.Equal(t, map[string]map[string]string{
		"GET /users": {
			"status":                    `{"stringValue":"error"}`,
			"service.name":              `{"stringValue":"api"}`,
			"http.request.method":       `{"stringValue":"GET"}`,
			"http.response.status_code": `{"intValue":"500"}`,
		},
		"load users": {
			"status":       `{"stringValue":"error"}`,
			"service.name": `{"stringValue":"api"}`,
		},
	}, got)

	// The structure tab's query, as buildQuery writes it with no filters
	// chosen: the root and the server spans below it (&>> keeps both
	// sides), or else the root alone.
	got = drilldownSpanAttributes(t, s, `({nestedSetParent<0 && true } &>> { kind = server }) || ({nestedSetParent<0 && true }) | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)`)
	require.Equal(t, map[string]map[string]string{
		"GET /users": {
			"status":       `{"stringValue":"error"}`,
			"service.name": `{"stringValue":"api"}`,
		},
		"SELECT users": {
			"status":       `{"stringValue":"unset"}`,
			"service.name": `{"stringValue":"db"}`,
		},
	}, got)
}

// TestGrafanaSearchCount: | count() > n keeps the traces whose spanset has
// more than n spans, through /api/search as Grafana sends it.
func TestGrafanaSearchCount(t *testing.T) {
	s := startServer(t, t.TempDir())
	api := newTraceService(t, s, "grpc", "api")
	// GET /orders with three children; GET /health with one.
	ctx, orders := api.Tracer("shop").Start(context.Background(), "GET /orders", trace.WithSpanKind(trace.SpanKindServer))
	for i := range 3 {
		_, c := api.Tracer("shop").Start(ctx, fmt.Sprintf("load %d", i))
		c.End()
	}
	orders.End()
	ctx, health := api.Tracer("shop").Start(context.Background(), "GET /health", trace.WithSpanKind(trace.SpanKindServer))
	_, ping := api.Tracer("shop").Start(ctx, "ping")
	ping.End()
	health.End()
	require.NoError(t, api.ForceFlush(ctxT(t)))

	names := func(q string) []string {
		t.Helper()
		var out []string
		for name := range drilldownSpanAttributes(t, s, q) {
			out = append(out, name)
		}
		slices.Sort(out)
		return out
	}
	require.Equal(t, []string{"GET /orders", "load 0", "load 1", "load 2"}, names(`{ resource.service.name = "api" } | count() > 2`))
	require.Equal(t, []string{"GET /health", "GET /orders", "load 0", "load 1", "load 2", "ping"}, names(`{ resource.service.name = "api" } | count() >= 2`))
	require.Equal(t, []string{"load 0", "load 1", "load 2"}, names(`{ name =~ "load.*" } | count() = 3 | select(name)`))
	require.Empty(t, names(`{} | count() > 4`))
}
