package exporters

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Panics counts requests whose exporter panicked, by signal; main registers
// it. Each is a bug.
var Panics = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "sightline_ingest_panics_total",
	Help: "OTLP requests whose exporter panicked (answered Internal / 500), by signal. Each is a bug.",
}, []string{"signal"})

// NoPanic wraps an exporter's push so that a panic becomes an Internal
// error of that request, counted and logged with its stack: the gRPC
// server does not recover from a handler's panic, so one bad request would
// otherwise take the process and every tenant's ingest down.
func NoPanic[T any](signal string, logger *slog.Logger, push func(context.Context, T) error) func(context.Context, T) error {
	return func(ctx context.Context, data T) (err error) {
		defer func() {
			if p := recover(); p != nil {
				Panics.WithLabelValues(signal).Inc()
				logger.Error("exporter panicked; the request is refused", "signal", signal, "panic", p, "stack", string(debug.Stack()))
				err = status.Error(codes.Internal, fmt.Sprintf("internal error storing %s: %v", signal, p))
			}
		}()
		return push(ctx, data)
	}
}
