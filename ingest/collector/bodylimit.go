package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensionmiddleware"
)

// bodyLimitType is a server middleware extension on the OTLP HTTP receiver
// that answers 413 Request Entity Too Large, naming the limit, where the
// receiver's own size check answers a bare 400.
var bodyLimitType = component.MustNewType("sightline_body_limit")

type bodyLimitConfig struct {
	MaxRequestBodySize int64 `mapstructure:"max_request_body_size"`
}

func (c *bodyLimitConfig) Validate() error {
	if c.MaxRequestBodySize <= 0 {
		return errors.New("max_request_body_size must be positive")
	}
	return nil
}

func bodyLimitFactory() extension.Factory {
	return extension.NewFactory(bodyLimitType,
		func() component.Config { return &bodyLimitConfig{MaxRequestBodySize: 16 << 20} },
		func(_ context.Context, _ extension.Settings, cfg component.Config) (extension.Extension, error) {
			return &bodyLimit{max: cfg.(*bodyLimitConfig).MaxRequestBodySize}, nil
		},
		component.StabilityLevelBeta)
}

type bodyLimit struct {
	component.StartFunc
	component.ShutdownFunc
	max int64
}

var _ extensionmiddleware.HTTPServer = (*bodyLimit)(nil)

func (b *bodyLimit) GetHTTPHandler(next http.Handler) (http.Handler, error) {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > b.max {
			http.Error(w, fmt.Sprintf("request body of %d bytes is over the limit of %d bytes", r.ContentLength, b.max), http.StatusRequestEntityTooLarge)
			return
		}
		// A chunked body is only found too large while it is read, inside
		// the receiver: turn the receiver's 400 into 413 then.
		body := &overLimitReader{ReadCloser: r.Body}
		r.Body = body
		ow := &overLimitWriter{ResponseWriter: w, body: body, max: b.max}
		next.ServeHTTP(ow, r)
		if ow.held { // a 500 with no body
			w.WriteHeader(http.StatusInternalServerError)
		}
	}), nil
}

type overLimitReader struct {
	io.ReadCloser
	over bool
}

func (r *overLimitReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		r.over = true
	}
	return n, err
}

type overLimitWriter struct {
	http.ResponseWriter
	body *overLimitReader
	max  int64
	held bool // a 500 not written yet
}

func (w *overLimitWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusBadRequest && w.body.over:
		code = http.StatusRequestEntityTooLarge
	case code == http.StatusInternalServerError:
		// Held until its body says whether it is the receiver failing to
		// write a parse error that quotes invalid UTF-8.
		w.held = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

// unmarshalable is the receiver's 500 when the message of a decoding error
// quotes bytes that are not UTF-8 and so cannot be written as JSON: the
// request was malformed (issue 12).
var unmarshalable = []byte("failed to marshal error message")

func (w *overLimitWriter) Write(b []byte) (int, error) {
	if !w.held {
		return w.ResponseWriter.Write(b)
	}
	w.held = false
	if bytes.Contains(b, unmarshalable) {
		w.ResponseWriter.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.ResponseWriter.WriteHeader(http.StatusBadRequest)
		_, err := io.WriteString(w.ResponseWriter, "malformed request: not valid OTLP JSON, and not valid UTF-8")
		return len(b), err
	}
	w.ResponseWriter.WriteHeader(http.StatusInternalServerError)
	return w.ResponseWriter.Write(b)
}
