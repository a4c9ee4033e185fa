package exporters

import (
	"context"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNoPanic(t *testing.T) {
	push := NoPanic("test", slog.New(slog.DiscardHandler), func(_ context.Context, n int) error {
		var m map[string]int
		m["boom"] = n // a nil map: panics
		return nil
	})
	before := testutil.ToFloat64(Panics.WithLabelValues("test"))
	err := push(context.Background(), 1)
	require.Equal(t, codes.Internal, status.Code(err))
	require.Contains(t, err.Error(), "nil map")
	require.Equal(t, before+1, testutil.ToFloat64(Panics.WithLabelValues("test")))

	ok := NoPanic("test", slog.New(slog.DiscardHandler), func(context.Context, int) error { return nil })
	require.NoError(t, ok(context.Background(), 1))
}
