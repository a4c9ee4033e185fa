package ui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed dist
var dist embed.FS

// asset is one embedded file, with what its answers need computed once.
type asset struct {
	body        []byte
	gzipped     []byte // nil when gzip would not make it smaller
	contentType string
	etag        string
}

// apiPrefixes are the paths of the HTTP port that are never pages: an
// unknown path under them stays a 404 rather than the UI's index.html, so
// that a client that mistypes an API path gets an error, not HTML.
var apiPrefixes = []string{"/api/", "/loki/", "/-/", "/debug/", "/metrics", "/v1/", "/otlp/"}

// Handler serves the UI: GET and HEAD of the files in dist/, and
// index.html for every other path that is not an API's. Assets are
// answered with an ETag and "no-cache" (revalidate each time): their names
// carry no content hash, and a new binary must not be served stale code.
func Handler() http.Handler {
	assets := map[string]*asset{}
	err := fs.WalkDir(dist, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := dist.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = http.DetectContentType(b)
		}
		a := &asset{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		// Compressed once here rather than per request: the JS bundle is
		// about 100 KB, 40 KB gzipped.
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(b)
		_ = zw.Close()
		if gz.Len() < len(b) {
			a.gzipped = gz.Bytes()
		}
		assets[strings.TrimPrefix(p, "dist")] = a
		return nil
	})
	if err != nil || assets["/index.html"] == nil {
		panic("BUG: ui: the embedded dist/ is unreadable or has no index.html: run make ui")
	}
	index := assets["/index.html"]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.NotFound(w, r) // as the port answered before it served a UI
			return
		}
		for _, p := range apiPrefixes {
			if strings.HasPrefix(r.URL.Path, p) {
				http.NotFound(w, r)
				return
			}
		}
		a := assets[r.URL.Path]
		if a == nil || r.URL.Path == "/index.html" {
			a = index
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("Vary", "Accept-Encoding")
		body, etag := a.body, a.etag
		if a.gzipped != nil && acceptsGzip(r) {
			// Another ETag: a cache must not take one encoding for the other.
			body, etag = a.gzipped, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("ETag", etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if a == index {
			// The page may not be framed by another site (clickjacking).
			h.Set("X-Frame-Options", "DENY")
		}
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip tells whether the request's Accept-Encoding allows gzip
// (every browser sends it; a q=0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			return strings.ReplaceAll(params, " ", "") != "q=0"
		}
	}
	return false
}
