package tracestore

import "github.com/sightline-dev/sightline/storage/record"

// Span is the stored span. It is record.Span, which the query side reads
// too; the store's code calls it Span.
type Span = record.Span

// TagNames are the attribute names seen in a time range, by scope.
type TagNames struct {
	Resource []string
	Span     []string
}

// TagValue is one distinct value of an attribute (or one span name), as
// stored: its text and type.
type TagValue struct {
	Value string
	Type  record.ValueType
}
