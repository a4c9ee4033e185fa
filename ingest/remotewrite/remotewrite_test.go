package remotewrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tsdbstore"
)

// openStore opens a metrics store, closed at the end of the test, with
// the registry of its metrics.
func openStore(t testing.TB) (*tsdbstore.Store, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	return storetest.Metrics(t, reg, nil), reg
}

func newTestReceiver(t testing.TB) (http.Handler, *tsdbstore.Store) {
	t.Helper()
	store, reg := openStore(t)
	return tenant.Middleware(New(store, Options{MaxRequestBodyBytes: 1 << 20}, slog.New(slog.DiscardHandler), reg)), store
}

func writeBody(t testing.TB, name string, v float64) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: []prompb.TimeSeries{{
		Labels:  []prompb.Label{{Name: "__name__", Value: name}},
		Samples: []prompb.Sample{{Timestamp: time.Now().UnixMilli(), Value: v}},
	}}}).Marshal()
	require.NoError(t, err)
	return snappy.Encode(nil, raw)
}

func post(h http.Handler, contentType, orgID string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/api/v1/write", bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if orgID != "" {
		req.Header.Set("X-Scope-OrgID", orgID)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// count returns how many series named name the tenant has.
func count(t *testing.T, store *tsdbstore.Store, id, name string) int {
	t.Helper()
	q, err := store.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(tenant.With(context.Background(), id), false, nil, labels.MustNewMatcher(labels.MatchEqual, "__name__", name))
	n := 0
	for ss.Next() {
		n++
	}
	require.NoError(t, ss.Err())
	return n
}

func TestRemoteWrite(t *testing.T) {
	h, store := newTestReceiver(t)
	require.Equal(t, http.StatusNoContent, post(h, "application/x-protobuf", "", writeBody(t, "a", 1)).Code)
	require.Equal(t, http.StatusNoContent, post(h, "application/x-protobuf", "team-b", writeBody(t, "b", 1)).Code)
	require.Equal(t, 1, count(t, store, tenant.Default, "a"))
	require.Equal(t, 0, count(t, store, tenant.Default, "b"), "tenant b's series is in the default tenant")
	require.Equal(t, 1, count(t, store, "team-b", "b"))

	rec := post(h, "application/json", "", writeBody(t, "a", 1))
	require.Equal(t, http.StatusUnsupportedMediaType, rec.Code)
	require.Contains(t, rec.Body.String(), "application/x-protobuf")
	rec = post(h, "application/x-protobuf", "", make([]byte, 2<<20))
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.Contains(t, rec.Body.String(), "limit of 1048576 bytes")

	// Nine bytes that state a decoded length of 3.75 GiB (issue 12).
	rec = post(h, "application/x-protobuf", "", binary.AppendUvarint(nil, 0xf0000000))
	require.Equal(t, http.StatusRequestEntityTooLarge, rec.Code)
	require.Contains(t, rec.Body.String(), "decompresses to 4026531840 bytes")
}

// Requests in flight at once each read their own body, though the buffers
// bodies are read into are used again: every series of every request is
// stored with its own value. A buffer given back while its request still
// reads it is a data race that `go test -race` reports here (checked by
// putting it back before the handler runs); without -race the window is
// too short to show.
func TestConcurrentBodiesKeptApart(t *testing.T) {
	h, store := newTestReceiver(t)
	const senders, requests = 8, 40
	var wg sync.WaitGroup
	codes := make(chan int, senders*requests)
	for g := range senders {
		wg.Go(func() {
			for i := range requests {
				// Bodies of different sizes, so that a buffer is grown
				// and then holds a longer body than the next.
				name := fmt.Sprintf("c%d_%d%s", g, i, strings.Repeat("x", (g*requests+i)%97*20))
				codes <- post(h, "application/x-protobuf", "", writeBody(t, name, float64(g*requests+i))).Code
			}
		})
	}
	wg.Wait()
	close(codes)
	for code := range codes {
		require.Equal(t, http.StatusNoContent, code)
	}
	q, err := store.Querier(0, time.Now().Add(time.Minute).UnixMilli())
	require.NoError(t, err)
	defer q.Close()
	ss := q.Select(tenant.With(context.Background(), tenant.Default), false, nil, labels.MustNewMatcher(labels.MatchRegexp, "__name__", "c.+"))
	got := map[string]float64{}
	var it chunkenc.Iterator
	for ss.Next() {
		it = ss.At().Iterator(it)
		require.Equal(t, chunkenc.ValFloat, it.Next())
		_, v := it.At()
		got[ss.At().Labels().Get("__name__")] = v
	}
	require.NoError(t, ss.Err())
	require.Len(t, got, senders*requests)
	for g := range senders {
		for i := range requests {
			name := fmt.Sprintf("c%d_%d%s", g, i, strings.Repeat("x", (g*requests+i)%97*20))
			require.Equal(t, float64(g*requests+i), got[name], name)
		}
	}
}

// FuzzRemoteWrite: whatever a remote-write body holds, the answer is a
// client error or success, never a server error or a crash.
func FuzzRemoteWrite(f *testing.F) {
	f.Add(writeBody(f, "seed", 1))
	f.Add([]byte("not snappy"))
	f.Add(snappy.Encode(nil, []byte("\x0a\xff\xff")))
	h, _ := newTestReceiver(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := post(h, "application/x-protobuf", "", body)
		require.Less(t, rec.Code, 500, rec.Body.String())
	})
}
