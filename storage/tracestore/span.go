package tracestore

import (
	"time"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// KV is an attribute, typed as OTLP has it (shared with the log store).
type KV = logstore.KV

// Span kinds and status codes, numbered as in OTLP.
const (
	KindUnspecified int32 = iota
	KindInternal
	KindServer
	KindClient
	KindProducer
	KindConsumer
)

// Status codes, numbered as in OTLP.
const (
	StatusUnset int32 = iota
	StatusOK
	StatusError
)

// Span is one span with every field of an OTLP span, its resource and its
// scope.
type Span struct {
	TraceID                [16]byte
	SpanID                 [8]byte
	ParentSpanID           [8]byte // all zero for a root span
	TraceState             string
	Flags                  uint32
	Name                   string
	Kind                   int32
	Start, End             int64 // unix nanoseconds
	StatusCode             int32
	StatusMessage          string
	Attributes             []KV
	DroppedAttributesCount uint32
	Events                 []Event
	DroppedEventsCount     uint32
	Links                  []Link
	DroppedLinksCount      uint32
	Resource               []KV
	ScopeName              string
	ScopeVersion           string
	ScopeAttributes        []KV
}

// Event is a span event.
type Event struct {
	Time                   int64
	Name                   string
	Attributes             []KV
	DroppedAttributesCount uint32
}

// Link is a span link.
type Link struct {
	TraceID                [16]byte
	SpanID                 [8]byte
	TraceState             string
	Flags                  uint32
	Attributes             []KV
	DroppedAttributesCount uint32
}

// Duration is End - Start (0 when End is before Start).
func (s *Span) Duration() time.Duration { return time.Duration(max(s.End-s.Start, 0)) }

// IsRoot reports whether the span has no parent.
func (s *Span) IsRoot() bool { return s.ParentSpanID == [8]byte{} }

// Service is the span's service.name resource attribute.
func (s *Span) Service() string { return s.ResourceAttr("service.name") }

// ResourceAttr returns the value of resource attribute key ("" if absent).
func (s *Span) ResourceAttr(key string) string {
	for _, kv := range s.Resource {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// SearchRequest is a trace search: a TraceQL query over a time range.
type SearchRequest struct {
	Query    *traceql.Query
	From, To int64 // unix nanoseconds, inclusive; spans starting in it are searched
	// Limit is the most traces returned (newest first).
	Limit int
	// SpansPerSpanSet bounds the matched spans returned per trace.
	SpansPerSpanSet int
}

// TraceSummary is one trace found by Search.
type TraceSummary struct {
	TraceID         [16]byte
	RootServiceName string // "" when the root span was not seen (yet)
	RootSpanName    string
	Start           int64 // earliest span start, unix nanoseconds
	Duration        time.Duration
	// Matched are the spans the query matched, at most SpansPerSpanSet;
	// MatchedCount counts them all.
	Matched      []*Span
	MatchedCount int
}

// SearchStats tells how much a search read.
type SearchStats struct {
	Segments     int `json:"segments"`
	BlocksRead   int `json:"blocksRead"`
	SpansScanned int `json:"spansScanned"`
}

// TagNames are the attribute names seen in a time range, by scope.
type TagNames struct {
	Resource []string
	Span     []string
}
