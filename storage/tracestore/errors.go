package tracestore

import (
	"errors"

	"github.com/sightline-dev/sightline/storage/segstore"
)

// ErrTooMuchData is returned by a search that would read more than
// Options.MaxScanSpans spans.
var ErrTooMuchData = errors.New("search would read too much data")

// ErrBackpressure is returned by Append while too many spans wait to be
// flushed; the sender should retry later (HTTP 429, gRPC ResourceExhausted).
var ErrBackpressure = segstore.ErrBackpressure
