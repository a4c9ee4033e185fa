package remotewrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/prompb"
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
