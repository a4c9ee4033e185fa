package record

import (
	"encoding/hex"
	"fmt"
)

// ParseTraceID parses a 32-hex-digit trace ID.
func ParseTraceID(s string) ([16]byte, error) {
	var id [16]byte
	if len(s) != 32 {
		return id, fmt.Errorf("trace ID %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("trace ID %q: %w", s, err)
	}
	if id == ([16]byte{}) {
		return id, fmt.Errorf("trace ID %q: all zero", s)
	}
	return id, nil
}
