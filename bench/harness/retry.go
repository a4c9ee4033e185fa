package harness

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// exportRetrying calls export until it succeeds. ResourceExhausted is
// Sightline's backpressure (a store is behind with flushing): the same
// request is sent again after a short, growing pause, as an SDK does, and
// counted in retries. Any other error ends it.
func exportRetrying(ctx context.Context, export func(context.Context) error, retries *atomic.Int64) error {
	backoff := 20 * time.Millisecond
	for {
		err := export(ctx)
		if err == nil {
			return nil
		}
		if status.Code(err) != codes.ResourceExhausted {
			return fmt.Errorf("export: %w", err)
		}
		retries.Add(1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("export: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}
