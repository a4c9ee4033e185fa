package exporters

import (
	"fmt"
	"sort"
	"strings"
)

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
