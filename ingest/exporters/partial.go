package exporters

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/limits"
	"github.com/sightline-dev/sightline/internal/throttle"
	"github.com/sightline-dev/sightline/storage/segstore"
)

// StoreAnswer is the collector's answer to a request after a store's
// Append: backpressure and a tenant limit are ResourceExhausted (HTTP 429;
// the sender retries the whole request), another store error is Unavailable, and items the
// store refused (by reason) are InvalidArgument (HTTP 400) with the
// partial-success message, also logged at a throttled rate; the rest of
// the request is stored.
func StoreAnswer(err error, items string, rejected map[string]int, tenantID string, badInput *throttle.Logger) error {
	if errors.Is(err, segstore.ErrBackpressure) || errors.Is(err, limits.ErrLimited) {
		return status.Error(codes.ResourceExhausted, err.Error())
	}
	if err != nil {
		return status.Errorf(codes.Unavailable, "store %s: %v", items, err)
	}
	msg := PartialSuccess(items, rejected)
	if msg == "" {
		return nil
	}
	badInput.Warn("rejected part of an OTLP request", "items", items, "tenant", tenantID, "problem", msg)
	return status.Error(codes.InvalidArgument, msg)
}

// PartialSuccess describes items a store refused, counted by reason, as the
// message of an OTLP partial-success error: "partial success: 3 spans
// rejected (invalid_span_id: 1, too_large: 2)". It is "" when none were.
func PartialSuccess(items string, rejected map[string]int) string {
	if len(rejected) == 0 {
		return ""
	}
	var parts []string
	total := 0
	for r, n := range rejected {
		parts = append(parts, fmt.Sprintf("%s: %d", r, n))
		total += n
	}
	sort.Strings(parts)
	return fmt.Sprintf("partial success: %d %s rejected (%s)", total, items, strings.Join(parts, ", "))
}
