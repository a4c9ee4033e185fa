package promapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

func newTestAPI(t testing.TB) (http.Handler, *tsdbstore.Store) {
	t.Helper()
	reg := prometheus.NewRegistry()
	store, err := tsdbstore.Open(t.TempDir(), slog.New(slog.DiscardHandler), reg, tsdbstore.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	opts := DefaultOptions()
	engine := NewEngine(DefaultEngineOptions(), slog.New(slog.DiscardHandler), reg)
	h, err := New(store, engine, opts, slog.New(slog.DiscardHandler), reg, reg)
	require.NoError(t, err)
	return tenant.Middleware(h), store
}

func do(h http.Handler, method, path, contentType string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestMetadata(t *testing.T) {
	h, store := newTestAPI(t)
	store.SetMetadata(tenant.Default, "http_requests_total", metadata.Metadata{Type: "counter", Help: "Requests."})
	store.SetMetadata(tenant.Default, "queue_bytes", metadata.Metadata{Type: "gauge", Unit: "bytes"})
	store.SetMetadata("other", "secret_total", metadata.Metadata{Type: "counter"})

	var got struct {
		Status string                         `json:"status"`
		Data   map[string][]map[string]string `json:"data"`
	}
	rec := do(h, http.MethodGet, "/api/v1/metadata", "", nil)
	require.Equal(t, http.StatusOK, rec.Code)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, "success", got.Status)
	require.Equal(t, map[string][]map[string]string{
		"http_requests_total": {{"type": "counter", "help": "Requests.", "unit": ""}},
		"queue_bytes":         {{"type": "gauge", "help": "", "unit": "bytes"}},
	}, got.Data)

	rec = do(h, http.MethodGet, "/api/v1/metadata?metric=queue_bytes", "", nil)
	got.Data = nil
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Len(t, got.Data, 1)
	rec = do(h, http.MethodGet, "/api/v1/metadata?limit=x", "", nil)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), `"errorType":"bad_data"`)
}

// /api/v1/status/tsdb and its blocks show the caller's tenant only (issue
// 12: any caller read the default tenant's cardinality, label values
// included).
func TestTSDBStatusPerTenant(t *testing.T) {
	h, store := newTestAPI(t)
	for id, name := range map[string]string{tenant.Default: "default_secret", "b": "b_metric"} {
		app := store.Appender(tenant.With(context.Background(), id))
		_, err := app.Append(0, labels.FromStrings("__name__", name, "user", "alice"), time.Now().UnixMilli(), 1)
		require.NoError(t, err)
		require.NoError(t, app.Commit())
	}
	status := func(id string) string {
		req := httptest.NewRequest(http.MethodGet, "/api/v1/status/tsdb", nil)
		if id != "" {
			req.Header.Set("X-Scope-OrgID", id)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		return rec.Body.String()
	}
	b := status("b")
	require.Contains(t, b, "b_metric")
	require.NotContains(t, b, "default_secret")
	require.Contains(t, status(""), "default_secret")
	require.Contains(t, status("c"), `"numSeries":0`)

	req := httptest.NewRequest(http.MethodGet, "/api/v1/status/tsdb/blocks", nil)
	req.Header.Set("X-Scope-OrgID", "c")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.JSONEq(t, `{"status":"success","data":{"blocks":[]}}`, rec.Body.String())
}

// The API answers browsers from the origins -web.cors.origin allows, and
// from none by default (issue 12: it reflected any Origin).
func TestCORS(t *testing.T) {
	_, store := newTestAPI(t)
	engine := NewEngine(DefaultEngineOptions(), slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	reg := prometheus.NewRegistry()
	for _, allowed := range []string{"", `https://grafana\.example`} {
		opts := DefaultOptions()
		opts.CORSOrigin = allowed
		h, err := New(store, engine, opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), reg)
		require.NoError(t, err)
		for _, origin := range []string{"https://evil.example", "https://grafana.example"} {
			req := httptest.NewRequest(http.MethodGet, "/api/v1/labels", nil)
			req.Header.Set("Origin", origin)
			rec := httptest.NewRecorder()
			tenant.Middleware(h).ServeHTTP(rec, req)
			want := ""
			if allowed != "" && origin == "https://grafana.example" {
				want = origin
			}
			require.Equal(t, want, rec.Header().Get("Access-Control-Allow-Origin"), "allowed %q, origin %s", allowed, origin)
		}
	}
	_, err := New(store, engine, Options{CORSOrigin: "("}, slog.New(slog.DiscardHandler), prometheus.NewRegistry(), reg)
	require.ErrorContains(t, err, "web.cors.origin")
}

// FuzzAPIParams: whatever the query string of a Prometheus API request
// holds, the answer is a success or a client error, never a server error
// or a crash: Sightline's own handlers (metadata, TSDB status) and the
// query endpoints in front of the MetricsQL layer.
func FuzzAPIParams(f *testing.F) {
	h, store := newTestAPI(f)
	app := store.Appender(tenant.With(context.Background(), tenant.Default))
	_, err := app.Append(0, labels.FromStrings("__name__", "up", "job", "x"), time.Now().UnixMilli(), 1)
	require.NoError(f, err)
	require.NoError(f, app.Commit())
	paths := []string{"/api/v1/metadata", "/api/v1/status/tsdb", "/api/v1/status/tsdb/blocks", "/api/v1/query", "/api/v1/query_range",
		"/api/v1/labels", "/api/v1/label/job/values", "/api/v1/series", "/api/v1/query_exemplars", "/api/v1/format_query"}
	for _, seed := range []struct {
		path uint8
		raw  string
	}{
		{0, "limit=-1&limit_per_metric=x"}, {1, "limit=0"}, {1, "limit=99999999999999999999"},
		{3, "query=up&time=-1e300"}, {4, "query=rate(up[5m])&start=0&end=1e20&step=1"},
		{4, "query=up&start=1&end=2&step=0"}, {5, "match[]={job=~\".+\"}&start=-9223372036854775808"},
		{8, "query=up&start=1e300&end=-1e300"}, {9, "query=sum(up) by (job"},
	} {
		f.Add(seed.path, seed.raw)
	}
	f.Fuzz(func(t *testing.T, path uint8, raw string) {
		params, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		req := httptest.NewRequest(http.MethodGet, paths[int(path)%len(paths)]+"?"+params.Encode(), nil)
		// A query may rightly run long (the engine's -query.timeout ends
		// it); here a cancelled one answers 503, which is no crash.
		ctx, cancel := context.WithTimeout(req.Context(), 3*time.Second)
		defer cancel()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req.WithContext(ctx))
		if ctx.Err() != nil {
			return
		}
		require.Less(t, rec.Code, 500, "%s?%s: %s", req.URL.Path, raw, rec.Body.String())
	})
}

// A query whose result would be more than -query.max-response-bytes as
// JSON gets 422 naming the limit; its aggregate answers.
func TestMaxResponseBytes(t *testing.T) {
	reg := prometheus.NewRegistry()
	store, err := tsdbstore.Open(t.TempDir(), slog.New(slog.DiscardHandler), reg, tsdbstore.DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	eopts := DefaultEngineOptions()
	eopts.MaxResponseBytes = 4000
	h, err := New(store, NewEngine(eopts, slog.New(slog.DiscardHandler), reg), DefaultOptions(), slog.New(slog.DiscardHandler), reg, reg)
	require.NoError(t, err)
	h = tenant.Middleware(h)

	now := time.Now()
	app := store.Appender(context.Background())
	for i := range 100 {
		for m := range 10 {
			_, err := app.Append(0, labels.FromStrings("__name__", "wide", "instance", fmt.Sprintf("host-%03d", i)), now.Add(-time.Duration(m)*time.Minute).UnixMilli(), float64(i))
			require.NoError(t, err)
		}
	}
	require.NoError(t, app.Commit())

	f := func(path string, code int, contains string) {
		t.Helper()
		rec := do(h, http.MethodGet, path, "", nil)
		require.Equal(t, code, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), contains)
	}
	at := fmt.Sprint(now.Unix())
	f("/api/v1/query?query=wide&time="+at, http.StatusUnprocessableEntity, "more than 4000 bytes as JSON (-query.max-response-bytes)")
	f("/api/v1/query?query=sum(wide)&time="+at, http.StatusOK, `"4950"`)
	f("/api/v1/query_range?"+url.Values{"query": {`wide{instance="host-001"}`}, "start": {fmt.Sprint(now.Add(-10 * time.Minute).Unix())}, "end": {at}, "step": {"60"}}.Encode(), http.StatusOK, `"1"`)
	f("/api/v1/query_range?"+url.Values{"query": {`wide{instance=~"host-00."}`}, "start": {fmt.Sprint(now.Add(-10 * time.Minute).Unix())}, "end": {at}, "step": {"15"}}.Encode(), http.StatusUnprocessableEntity, `"errorType":"execution"`)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	refused := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "sightline_query_results_too_large_total" {
			refused = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	require.Equal(t, 2.0, refused)
}
