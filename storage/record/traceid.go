package record

import (
	"encoding/hex"
	"fmt"
)

// ParseTraceID parses a trace ID as Tempo and Grafana write them: 1 to 32
// hex digits in either case; a shorter one (a 64-bit ID of a Jaeger or
// Zipkin client, or one whose leading zeros Tempo's search results
// trimmed) is left-padded with zeros. All zeros is not a trace ID.
func ParseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if s == "" || len(s) > 32 {
		return id, fmt.Errorf("trace ID %q: want 1 to 32 hex digits", s)
	}
	digits := s
	if len(digits)%2 == 1 {
		digits = "0" + digits
	}
	if _, err := hex.Decode(id[16-len(digits)/2:], []byte(digits)); err != nil {
		return id, fmt.Errorf("trace ID %q: %w", s, err)
	}
	if id == ([16]byte{}) {
		return id, fmt.Errorf("trace ID %q: all zero", s)
	}
	return id, nil
}
