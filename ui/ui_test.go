package ui

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestHandler(t *testing.T) {
	h := Handler()
	get := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	f := func(path string, code int, contentType, contains string) {
		t.Helper()
		w := get(http.MethodGet, path)
		require.Equal(t, code, w.Code, path)
		require.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), contentType), "%s: %s", path, w.Header().Get("Content-Type"))
		require.Contains(t, w.Body.String(), contains, path)
	}
	f("/", 200, "text/html", `<div id="app">`)
	f("/app.js", 200, "text/javascript", "")
	f("/app.css", 200, "text/css", "")
	f("/some/page", 200, "text/html", `<div id="app">`) // the SPA fallback
	f("/api/nope", 404, "text/plain", "404")
	f("/loki/api/v1/nope", 404, "text/plain", "404")
	f("/-/nope", 404, "text/plain", "404")

	require.Equal(t, 404, get(http.MethodPost, "/").Code)
	w := get(http.MethodGet, "/app.js")
	etag := w.Header().Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, get(http.MethodGet, "/app.js", "If-None-Match", etag).Code)

	// Browsers get the bundle gzipped; a client that does not ask gets it plain.
	gz := get(http.MethodGet, "/app.js", "Accept-Encoding", "gzip, deflate, br")
	require.Equal(t, "gzip", gz.Header().Get("Content-Encoding"))
	require.NotEqual(t, etag, gz.Header().Get("ETag"))
	zr, err := gzip.NewReader(gz.Body)
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.Equal(t, w.Body.String(), string(plain))
	require.Less(t, gz.Body.Len(), 50_000, "the gzipped JS of the first page")
	require.Empty(t, get(http.MethodGet, "/app.js", "Accept-Encoding", "gzip;q=0").Header().Get("Content-Encoding"))
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
