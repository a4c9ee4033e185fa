package remotewrite

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sync"
	"time"

	"github.com/klauspost/compress/snappy"
	remoteapi "github.com/prometheus/client_golang/exp/api/remote"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"

	"github.com/sightline-dev/sightline/internal/flagext"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// Options configure the receiver.
type Options struct {
	// MaxRequestBodyBytes bounds a remote_write body (413 above it).
	MaxRequestBodyBytes int64
	// Limits, if not nil, refuses (429) the writes of a tenant over its
	// ingestion rate; the store takes the samples of the others. Not a
	// flag.
	Limits interface{ Allows(tenant string) error }
}

// DefaultOptions are the embedded defaults.
func DefaultOptions() Options {
	return Options{MaxRequestBodyBytes: 32 << 20}
}

// RegisterFlags declares the options as flags, with their current values
// as defaults.
func (o *Options) RegisterFlags(fs *flag.FlagSet) {
	flagext.Bytes(fs, &o.MaxRequestBodyBytes, "remote-write.max-request-body-size", "Largest remote_write body accepted on /api/v1/write; larger ones get 413.")
}

// New returns the handler of POST /api/v1/write, appending to app; mount
// it behind tenant.Middleware so that each tenant writes its own data.
func New(app storage.Appendable, opts Options, logger *slog.Logger, reg prometheus.Registerer) http.Handler {
	c := &capture{Registerer: reg}
	prom := remote.NewWriteHandler(logger, c, app,
		remoteapi.MessageTypes{remoteapi.WriteV1MessageType, remoteapi.WriteV2MessageType},
		false, false, false)
	invalid, err := c.counter("prometheus_api_remote_write_invalid_labels_samples_total")
	if err != nil {
		panic(err) // a Prometheus upgrade renamed it; every test fails
	}
	return guarded(opts, &v1Handler{app: app, prom: prom, invalid: invalid, logger: logger, badInput: throttle.New(logger, 10*time.Second)})
}

// guarded puts Sightline's checks of a request before h: its size, its
// type and the tenant's ingestion rate.
func guarded(opts Options, h http.Handler) http.Handler {
	h = limitBody(opts.MaxRequestBodyBytes, protobufOnly(limitDecoded(maxCompression*opts.MaxRequestBodyBytes, h)))
	if opts.Limits == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := opts.Limits.Allows(tenant.FromContext(r.Context())); err != nil {
			http.Error(w, err.Error(), http.StatusTooManyRequests)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// maxCompression bounds how much larger than its body a request may be once
// decompressed: snappy compresses remote-write protobuf 2 to 5 times.
const maxCompression = 16

// bodies holds the buffers limitDecoded reads bodies into. A buffer of its
// own for every request, grown as it is read, was a fifth of what the
// remote_write ingest of the week-long benchmark allocated.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// limitDecoded answers 413 for a snappy body that states a decoded length
// over max: Prometheus' handler would allocate whatever the first bytes
// state, and nine bytes may state gigabytes. The body next reads is in a
// buffer used again once next returns: the handlers behind it keep none of
// it (each decodes it into memory of its own).
func limitDecoded(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := bodies.Get().(*bytes.Buffer)
		defer bodies.Put(buf)
		buf.Reset()
		_, err := buf.ReadFrom(r.Body)
		body := buf.Bytes()
		if err != nil {
			code := http.StatusBadRequest
			if _, ok := err.(*http.MaxBytesError); ok {
				code = http.StatusRequestEntityTooLarge
			}
			http.Error(w, "read request body: "+err.Error(), code)
			return
		}
		if n, err := snappy.DecodedLen(body); err == nil && int64(n) > max {
			http.Error(w, fmt.Sprintf("request body decompresses to %d bytes, over the limit of %d bytes", n, max), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(w, r)
	})
}

// limitBody answers 413, naming the limit, for a body over max bytes.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			http.Error(w, fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, max), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}

// protobufOnly answers 415 for a remote-write body that says it is not
// protobuf; Prometheus' handler would answer 400. Senders that set no
// Content-Type at all are let through, as Prometheus does.
func protobufOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/x-protobuf" {
				http.Error(w, fmt.Sprintf("unsupported Content-Type %q: remote write takes application/x-protobuf", ct), http.StatusUnsupportedMediaType)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
