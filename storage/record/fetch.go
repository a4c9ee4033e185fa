package record

// FetchSpansRequest asks a trace store for the spans of the traces that may
// match a query (Tempo's traceql.FetchSpansRequest).
type FetchSpansRequest struct {
	// Start and End bound span start times (unix nanoseconds, inclusive): a
	// trace is fetched when some of its spans start in the range.
	Start, End int64
	// Conditions are all required: a trace in which no span meets one of
	// them cannot match. A store checks those it can and leaves out the
	// traces they rule out; it may return traces that fail the others,
	// which the engine evaluates anyway.
	Conditions []Condition
	// SkipSpanAttributes says the engine reads no span attributes: a store
	// may leave them out of the spans it hands over (a columnar one reads
	// less).
	SkipSpanAttributes bool
	// MaxSpans, if positive, replaces the store's limit on the spans a
	// fetch may read: an aggregation that streams (TraceQL metrics) keeps
	// no span, and may read more than a search that holds its results.
	MaxSpans int
}

// Spanset is the spans of one trace that a store holds in one place (a head
// or a segment): a trace whose spans were stored minutes apart, and so sit
// in several segments, comes as several spansets, as Tempo reads its blocks
// one by one.
type Spanset struct {
	TraceID [16]byte
	// Spans may sit in a buffer the store reuses once the spanset has been
	// handled: copy a span to keep it (a shallow copy is enough, its
	// attribute slices are not reused).
	Spans []*Span
}

// FetchStats tell how much a fetch read.
type FetchStats struct {
	Segments     int `json:"segments"`
	BlocksRead   int `json:"blocksRead"`
	SpansScanned int `json:"spansScanned"`
}
