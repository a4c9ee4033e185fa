package main_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
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
