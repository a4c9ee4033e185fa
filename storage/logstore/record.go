package logstore

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sightline-dev/sightline/storage/segment"
)

// ValueType is the type of an attribute value or of the body, as OTLP has
// it. Values that are not strings are stored as their JSON text.
type ValueType uint8

// Value types.
const (
	TypeEmpty ValueType = iota
	TypeString
	TypeInt
	TypeDouble
	TypeBool
	TypeBytes // base64 in JSON
	TypeArray // JSON
	TypeMap   // JSON
)

// KV is an attribute.
type KV struct {
	Key   string
	Value string
	Type  ValueType
}

// Record is one log record with every field of an OTLP log record.
type Record struct {
	Timestamp         int64 // unix nanoseconds; the observed time when the sender set none
	ObservedTimestamp int64
	SeverityNumber    int32
	SeverityText      string
	Body              string
	BodyType          ValueType
	TraceID           [16]byte // all zero when absent
	SpanID            [8]byte
	Flags             uint32
	Resource          []KV
	ScopeName         string
	ScopeVersion      string
	Attributes        []KV
	// DroppedAttributesCount is kept as OTLP sends it.
	DroppedAttributesCount uint32
}

// HasTrace reports whether the record carries a trace ID.
func (r *Record) HasTrace() bool { return r.TraceID != [16]byte{} }

// Resource returns the value of resource attribute key.
func (r *Record) ResourceAttr(key string) string { return get(r.Resource, key) }

// Attr returns the value of record attribute key.
func (r *Record) Attr(key string) string { return get(r.Attributes, key) }

func get(kvs []KV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

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
// corrupt is stored; it reports whether anything was replaced.
func (r *Record) Repair() bool {
	var fix Repairer
	fix.String(&r.SeverityText)
	if r.BodyType != TypeBytes {
		fix.String(&r.Body)
	}
	fix.String(&r.ScopeName)
	fix.String(&r.ScopeVersion)
	fix.KVs(r.Resource)
	fix.KVs(r.Attributes)
	return fix.Fixed
}

// Repairer replaces invalid UTF-8 with U+FFFD in the text it is given and
// remembers whether it did. The log and trace stores repair what they are
// sent with it: queries answer in JSON and protobuf, whose clients reject
// invalid UTF-8.
type Repairer struct{ Fixed bool }

// String repairs *s.
func (f *Repairer) String(s *string) {
	if !utf8.ValidString(*s) {
		*s = strings.ToValidUTF8(*s, "\uFFFD")
		f.Fixed = true
	}
}

// KVs repairs keys and values (bytes values are base64 text already).
func (f *Repairer) KVs(kvs []KV) {
	for i := range kvs {
		f.String(&kvs[i].Key)
		if kvs[i].Type != TypeBytes {
			f.String(&kvs[i].Value)
		}
	}
}

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
	EncodeKVs(e, r.Resource)
	e.String(r.ScopeName)
	e.String(r.ScopeVersion)
	EncodeKVs(e, r.Attributes)
	e.Uvarint(uint64(r.DroppedAttributesCount))
}

// EncodeKVs appends kvs to e; DecodeKVs reads them back. The trace store
// stores attributes the same way.
func EncodeKVs(e *segment.Enc, kvs []KV) {
	e.Uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		e.String(kv.Key)
		e.Uvarint(uint64(kv.Type))
		e.String(kv.Value)
	}
}

func (r *Record) decode(d *segment.Dec) {
	r.Timestamp = d.Varint()
	r.ObservedTimestamp = r.Timestamp + d.Varint()
	r.SeverityNumber = int32(d.Varint())
	r.SeverityText = d.String()
	r.BodyType = ValueType(d.Uvarint())
	r.Body = d.String()
	copy(r.TraceID[:], d.Fixed(16))
	copy(r.SpanID[:], d.Fixed(8))
	r.Flags = uint32(d.Uvarint())
	r.Resource = DecodeKVs(d)
	r.ScopeName = d.String()
	r.ScopeVersion = d.String()
	r.Attributes = DecodeKVs(d)
	r.DroppedAttributesCount = uint32(d.Uvarint())
}

func DecodeKVs(d *segment.Dec) []KV {
	n := d.Uvarint()
	if n > uint64(len(d.B)) { // each KV takes at least a byte
		d.Err = segment.ErrCorrupt
		return nil
	}
	if n == 0 {
		return nil
	}
	kvs := make([]KV, n)
	for i := range kvs {
		kvs[i].Key = d.String()
		kvs[i].Type = ValueType(d.Uvarint())
		kvs[i].Value = d.String()
	}
	return kvs
}
