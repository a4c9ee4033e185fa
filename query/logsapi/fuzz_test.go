package logsapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/logstore"
	"github.com/sightline-dev/sightline/storage/record"
)

// fuzzPaths are the endpoints whose parameters FuzzAPIParams varies: every
// GET of the native and Loki APIs but the live tail.
var fuzzPaths = []string{
	"/api/v1/logs/search",
	"/api/v1/logs/histogram",
	"/api/v1/logs/trace/4bf92f3577b34da6a3ce929d0e0e4736",
	"/loki/api/v1/query_range",
	"/loki/api/v1/query",
	"/loki/api/v1/labels",
	"/loki/api/v1/label/service_name/values",
	"/loki/api/v1/series",
	"/loki/api/v1/index/stats",
	"/loki/api/v1/detected_fields",
	"/loki/api/v1/detected_field/status/values",
	"/loki/api/v1/detected_labels",
	"/loki/api/v1/patterns",
	"/loki/api/v1/index/volume",
	"/loki/api/v1/index/volume_range",
}

// FuzzAPIParams: whatever the query string of a log API request holds, the
// answer is a success or a client error, never a server error or a crash.
// The seeds are the requests that crashed the server (issue 12).
func FuzzAPIParams(f *testing.F) {
	s, err := logstore.Open(f.TempDir(), logstore.DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(f, err)
	f.Cleanup(func() { _ = s.Close() })
	now := time.Now()
	var recs []*logstore.Record
	for i := range 50 {
		recs = append(recs, &logstore.Record{Timestamp: now.Add(-time.Duration(i) * time.Second).UnixNano(), Body: "hello world", SeverityText: "INFO",
			Resource:   []record.KV{{Key: "service.name", Value: "api", Type: record.TypeString}},
			Attributes: []record.KV{{Key: "", Value: "nameless", Type: record.TypeString}}})
	}
	_, err = s.Append(context.Background(), recs)
	require.NoError(f, err)
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second})
	h := New(s, engine, DefaultOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry()).Handler()

	for _, seed := range []struct {
		path uint8
		raw  string
	}{
		{0, "query=hello"},
		{1, "start=-9223372036854775808&step=1ms"},
		{1, "start=-9223372036854775808&end=9223372036854775807&step=1ms"},
		{3, `query={service_name="api"}&start=0&end=9223372036854775807&step=1`},
		{3, `query=sum(count_over_time({service_name="api"}[1m]))&step=0.001`},
		{4, `query=count_over_time({service_name="api"}[1m])&time=-1e300`},
		{5, "start=1e300&end=-1e300"},
		{8, `query={service_name="api"}&start=-9223372036854775808`},
		{10, `query={service_name="api"}&limit=1&line_limit=0`},
		{11, `query=&start=2024-01-01T00:00:00.000Z&end=2024-01-01T01:00:00.000Z`},
		{12, `query={service_name="api"} |= "hello"&step=1e-300`},
		{12, `query={service_name="api"}&start=-9223372036854775808&end=9223372036854775807&step=1e300`},
		{13, `query={service_name=~".+"}&targetLabels=,,a&aggregateBy=labels&limit=5000`},
		{14, `query={service_name="api"}&start=-9223372036854775808&end=9223372036854775807&step=1e300`},
		{14, `query={service_name="api"}&start=-9223372036854775808&step=-9223372036854775808`},
	} {
		f.Add(seed.path, seed.raw)
	}
	f.Fuzz(func(t *testing.T, path uint8, raw string) {
		params, err := url.ParseQuery(raw)
		if err != nil {
			return // not a query string a client could send
		}
		req := httptest.NewRequest(http.MethodGet, fuzzPaths[int(path)%len(fuzzPaths)]+"?"+params.Encode(), nil)
		ctx, cancel := context.WithTimeout(req.Context(), 10*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { defer close(done); h.ServeHTTP(rec, req.WithContext(ctx)) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("%s?%s still running 10s after its deadline", req.URL.Path, raw)
		}
		require.Less(t, rec.Code, 500, "%s?%s: %s", req.URL.Path, raw, rec.Body.String())
	})
}
