package record

import (
	"slices"
	"time"
)

// Span kinds, numbered as in OTLP.
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
// scope, as the trace store keeps it.
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
func (s *Span) ResourceAttr(key string) string { return Attr(s.Resource, key) }

// Size is the span's size for limits: the bytes of its strings and
// attributes.
func (s *Span) Size() int {
	kvs := func(kvs []KV) int {
		n := 0
		for _, kv := range kvs {
			n += len(kv.Key) + len(kv.Value) + 2
		}
		return n
	}
	n := 96 + len(s.Name) + len(s.TraceState) + len(s.StatusMessage) + kvs(s.Attributes) + kvs(s.Resource) +
		len(s.ScopeName) + len(s.ScopeVersion) + kvs(s.ScopeAttributes)
	for _, e := range s.Events {
		n += 16 + len(e.Name) + kvs(e.Attributes)
	}
	for _, l := range s.Links {
		n += 40 + len(l.TraceState) + kvs(l.Attributes)
	}
	return n
}

// Repair replaces invalid UTF-8 in every text field with U+FFFD, so nothing
// corrupt is stored; it reports whether anything was replaced. The
// resource goes through shared, which skips the one the request's span
// before repaired.
func (s *Span) Repair(shared *SharedKVs) bool {
	var fix Repairer
	for _, p := range []*string{&s.Name, &s.TraceState, &s.StatusMessage, &s.ScopeName, &s.ScopeVersion} {
		fix.String(p)
	}
	fix.KVs(s.Attributes)
	shared.KVs(&fix, s.Resource)
	fix.KVs(s.ScopeAttributes)
	for i := range s.Events {
		fix.String(&s.Events[i].Name)
		fix.KVs(s.Events[i].Attributes)
	}
	for i := range s.Links {
		fix.String(&s.Links[i].TraceState)
		fix.KVs(s.Links[i].Attributes)
	}
	return fix.Fixed
}

var (
	kindNames   = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}
	statusNames = [...]string{"unset", "ok", "error"}
)

// KindName is TraceQL's (and Tempo's) name of an OTLP span kind ("server",
// ...); "unspecified" for a kind OTLP does not define.
func KindName(k int32) string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// StatusName is TraceQL's (and Tempo's) name of an OTLP status code
// ("error", ...); "unset" for a code OTLP does not define.
func StatusName(c int32) string {
	if c >= 0 && int(c) < len(statusNames) {
		return statusNames[c]
	}
	return "unset"
}

// KindNames lists every kind name, in OTLP's order.
func KindNames() []string { return slices.Clone(kindNames[:]) }

// StatusNames lists every status name, in OTLP's order.
func StatusNames() []string { return slices.Clone(statusNames[:]) }
