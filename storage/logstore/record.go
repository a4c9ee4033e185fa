package logstore

import (
	"errors"

	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/segment"
)

// Record is one log record with every field of an OTLP log record.
type Record struct {
	Timestamp         int64 // unix nanoseconds; the observed time when the sender set none
	ObservedTimestamp int64
	SeverityNumber    int32
	SeverityText      string
	Body              string
	BodyType          record.ValueType
	TraceID           [16]byte // all zero when absent
	SpanID            [8]byte
	Flags             uint32
	Resource          []record.KV
	ScopeName         string
	ScopeVersion      string
	Attributes        []record.KV
	// DroppedAttributesCount is kept as OTLP sends it.
	DroppedAttributesCount uint32

	// stream is the record's stream once the store has it: Append and
	// Replay set it, and reading a block sets it from the block's stream
	// column, so that a record's stream labels (and its detected level,
	// which may come from its line) are worked out once, at ingest.
	stream *streamKey
}

// HasTrace reports whether the record carries a trace ID.
func (r *Record) HasTrace() bool { return r.TraceID != [16]byte{} }

// Resource returns the value of resource attribute key.
func (r *Record) ResourceAttr(key string) string { return record.Attr(r.Resource, key) }

// Attr returns the value of record attribute key.
func (r *Record) Attr(key string) string { return record.Attr(r.Attributes, key) }

// Size is the record's size for limits: the bytes of its strings.
func (r *Record) Size() int {
	n := len(r.SeverityText) + len(r.Body) + len(r.ScopeName) + len(r.ScopeVersion) + 64
	for _, kv := range r.Resource {
		n += len(kv.Key) + len(kv.Value)
	}
	for _, kv := range r.Attributes {
		n += len(kv.Key) + len(kv.Value)
	}
	return n
}

// ErrInvalidUTF8 is returned for records whose text is not valid UTF-8.
var ErrInvalidUTF8 = errors.New("invalid UTF-8")

// Repair replaces invalid UTF-8 in every text field with U+FFFD, so nothing
// corrupt is stored; it reports whether anything was replaced. The
// resource goes through shared, which skips the one the request's record
// before repaired.
func (r *Record) Repair(shared *record.SharedKVs) bool {
	var fix record.Repairer
	fix.String(&r.SeverityText)
	if r.BodyType != record.TypeBytes {
		fix.String(&r.Body)
	}
	fix.String(&r.ScopeName)
	fix.String(&r.ScopeVersion)
	shared.KVs(&fix, r.Resource)
	fix.KVs(r.Attributes)
	return fix.Fixed
}

// encode appends the WAL encoding of r.
func (r *Record) encode(e *segment.Enc) {
	e.Varint(r.Timestamp)
	e.Varint(r.ObservedTimestamp - r.Timestamp)
	e.Varint(int64(r.SeverityNumber))
	e.String(r.SeverityText)
	e.Uvarint(uint64(r.BodyType))
	e.String(r.Body)
	e.Fixed(r.TraceID[:])
	e.Fixed(r.SpanID[:])
	e.Uvarint(uint64(r.Flags))
	record.EncodeKVs(e, r.Resource)
	e.String(r.ScopeName)
	e.String(r.ScopeVersion)
	record.EncodeKVs(e, r.Attributes)
	e.Uvarint(uint64(r.DroppedAttributesCount))
}

func (r *Record) decode(d *segment.Dec) {
	r.Timestamp = d.Varint()
	r.ObservedTimestamp = r.Timestamp + d.Varint()
	r.SeverityNumber = int32(d.Varint())
	r.SeverityText = d.String()
	r.BodyType = record.ValueType(d.Uvarint())
	r.Body = d.String()
	copy(r.TraceID[:], d.Fixed(16))
	copy(r.SpanID[:], d.Fixed(8))
	r.Flags = uint32(d.Uvarint())
	r.Resource = record.DecodeKVs(d)
	r.ScopeName = d.String()
	r.ScopeVersion = d.String()
	r.Attributes = record.DecodeKVs(d)
	r.DroppedAttributesCount = uint32(d.Uvarint())
}
