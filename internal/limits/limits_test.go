package limits

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/storage/tenant"
)

func newRegistry(t *testing.T, opts Options) *Registry {
	t.Helper()
	r, err := New(opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(r.Close)
	return r
}

func TestIngestionRateAndOverrides(t *testing.T) {
	file := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  big:\n    ingestion_burst: 1000\n"), 0o644))
	r := newRegistry(t, Options{Defaults: Limits{IngestionRate: 1, IngestionBurst: 100, IngestionBytesRate: 1, IngestionBytesBurst: 1000}, OverridesFile: file})

	require.NoError(t, r.Ingest("a", 60, 0))
	require.ErrorIs(t, r.Ingest("a", 60, 0), ErrLimited, "over the burst")
	require.NoError(t, r.Ingest("a", 40, 0), "a refused request takes nothing")
	require.ErrorIs(t, r.Allows("a"), ErrLimited, "the burst is spent")
	require.NoError(t, r.Allows("b"), "each tenant has its own bucket")
	require.ErrorIs(t, r.Ingest("b", 1, 2000), ErrLimited, "over the bytes burst")
	require.NoError(t, r.Ingest("b", 99, 0), "the refused bytes took no items either")

	require.NoError(t, r.Ingest("big", 900, 0), "an override raises the burst")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  big:\n    ingestion_burst: 10\n"), 0o644))
	require.NoError(t, r.Reload())
	require.ErrorIs(t, r.Ingest("big", 20, 0), ErrLimited, "a reload applies without a restart")

	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  big:\n    ingestion_brust: 10\n"), 0o644))
	require.ErrorContains(t, r.Reload(), "ingestion_brust")
	require.ErrorIs(t, r.Ingest("big", 20, 0), ErrLimited, "an invalid file changes nothing")
}

func TestFetchLimitsAndOverrides(t *testing.T) {
	file := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  big:\n    max_fetched_series_per_query: 0\n    max_fetched_chunk_bytes_per_query: 1073741824\n"), 0o644))
	r := newRegistry(t, Options{Defaults: DefaultOptions().Defaults, MaxTenants: 1, OverridesFile: file})
	series, chunkBytes := r.FetchLimits("a")
	require.Equal(t, 100_000, series)
	require.Equal(t, int64(512<<20), chunkBytes)
	series, chunkBytes = r.FetchLimits("big")
	require.Equal(t, 0, series, "0: no limit")
	require.Equal(t, int64(1<<30), chunkBytes)
	require.NoError(t, r.Admit("writer"), "asking for a tenant's limits admits none")
}

func TestMaxTenants(t *testing.T) {
	r := newRegistry(t, Options{MaxTenants: 2})
	r.AdmitExisting("on-disk")
	require.NoError(t, r.Ingest("a", 1, 0))
	require.ErrorIs(t, r.Ingest("b", 1, 0), ErrLimited)
	require.ErrorIs(t, r.Admit("b"), ErrLimited)
	_, err := r.MaxSeries("b")
	require.ErrorIs(t, err, ErrLimited)
	require.NoError(t, r.Ingest("on-disk", 1, 0))
	require.NoError(t, r.Admit("a"))

	// Queries naming other tenants do not take their places.
	r = newRegistry(t, Options{MaxTenants: 1})
	for i := range 10 {
		release, err := r.Query(context.Background(), fmt.Sprint("nobody-", i))
		require.NoError(t, err)
		release()
	}
	require.NoError(t, r.Ingest("writer", 1, 0))
}

func TestConcurrentQueries(t *testing.T) {
	r := newRegistry(t, Options{Defaults: Limits{MaxConcurrentQueries: 1}})
	require.NoError(t, r.Admit("a"), "a tenant with data")
	entered, leave := make(chan struct{}), make(chan struct{})
	h := tenant.Middleware(r.QueryMiddleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path == "/slow" {
			entered <- struct{}{}
			<-leave
		}
	}), func(p string) bool { return p == "/tail" }))
	do := func(path, id string) int {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set(tenant.Header, id)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	done := make(chan int)
	go func() { done <- do("/slow", "a") }()
	<-entered
	// A second query of a waits for its turn, and is refused if it cannot
	// wait that long.
	short, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequest(http.MethodGet, "/q", nil).WithContext(short)
	req.Header.Set(tenant.Header, "a")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusTooManyRequests, rec.Code)
	queued := make(chan int)
	go func() { queued <- do("/q", "a") }()
	require.Equal(t, http.StatusOK, do("/q", "b"), "another tenant is not held up")
	require.Equal(t, http.StatusOK, do("/tail", "a"), "a live tail is not counted")
	close(leave)
	require.Equal(t, http.StatusOK, <-done)
	require.Equal(t, http.StatusOK, <-queued, "the queued query ran once the slot was free")
	require.Equal(t, http.StatusOK, do("/q", "a"), "the slot is released")
}

// A query's start and end, in any form the Prometheus, Loki and Tempo APIs
// take, may be at most MaxQueryLength apart; an override lengthens it.
func TestMaxQueryLength(t *testing.T) {
	file := filepath.Join(t.TempDir(), "overrides.yml")
	require.NoError(t, os.WriteFile(file, []byte("overrides:\n  big:\n    max_query_length: 3h\n"), 0o644))
	r := newRegistry(t, Options{Defaults: Limits{MaxQueryLength: time.Hour}, OverridesFile: file})
	h := tenant.Middleware(r.QueryMiddleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), func(string) bool { return false }))
	end := time.Now()
	do := func(id string, start, stop string) int {
		req := httptest.NewRequest(http.MethodGet, "/q?"+url.Values{"start": {start}, "end": {stop}}.Encode(), nil)
		req.Header.Set(tenant.Header, id)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, format := range []func(time.Time) string{
		func(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) },                             // Prometheus, Tempo
		func(t time.Time) string { return strconv.FormatInt(t.UnixNano(), 10) },                         // Loki
		func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },                            // RFC 3339
		func(t time.Time) string { return strconv.FormatFloat(float64(t.UnixMilli())/1e3, 'f', 3, 64) }, // fractional
	} {
		require.Equal(t, http.StatusOK, do("a", format(end.Add(-59*time.Minute)), format(end)))
		require.Equal(t, http.StatusBadRequest, do("a", format(end.Add(-2*time.Hour)), format(end)))
		require.Equal(t, http.StatusOK, do("big", format(end.Add(-2*time.Hour)), format(end)))
	}
	require.Equal(t, http.StatusOK, do("a", "garbage", "1"), "what it cannot read is the API's to refuse")
}

// FuzzQueryParams: whatever start and end a query names, the middleware
// answers (400 past the limit) and never crashes.
func FuzzQueryParams(f *testing.F) {
	r, err := New(Options{Defaults: Limits{MaxQueryLength: time.Hour, MaxConcurrentQueries: 1}}, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(f, err)
	f.Cleanup(r.Close)
	h := tenant.Middleware(r.QueryMiddleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), func(string) bool { return false }))
	f.Add("0", "7200")
	f.Add("-9223372036854775808", "9223372036854775807")
	f.Add("1e300", "-1e300")
	f.Add("NaN", "Inf")
	f.Add("2026-11-30T00:00:00Z", "1796073443.667")
	f.Fuzz(func(t *testing.T, start, end string) {
		req := httptest.NewRequest(http.MethodGet, "/q?"+url.Values{"start": {start}, "end": {end}}.Encode(), nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, rec.Code, rec.Body.String())
	})
}
