package record

import "github.com/sightline-dev/sightline/storage/segment"

// ValueType is the type of an attribute value or of a log body, as OTLP has
// it. Values that are not strings are stored as their JSON text.
//
// The numbers are stored (in segments, the WAL and the trace store's tag
// index): never renumber them.
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

// Scalar reports whether t is a string, an int, a double or a bool: the
// types queries compare (TraceQL sees attributes of the other types as
// absent) and the trace store's tag index keeps.
func (t ValueType) Scalar() bool { return t >= TypeString && t <= TypeBool }

// KV is an attribute.
type KV struct {
	Key   string
	Value string
	Type  ValueType
}

// KVsID identifies an attribute slice by where it starts and its length.
// The records or spans of one request share their resource's slice, so an
// encoder that has seen a KVsID need not encode or look up its attributes
// again. The zero KVsID is that of an empty slice.
type KVsID struct {
	first *KV
	n     int
}

// IDOf returns kvs' KVsID.
func IDOf(kvs []KV) KVsID {
	if len(kvs) == 0 {
		return KVsID{}
	}
	return KVsID{&kvs[0], len(kvs)}
}

// Attr returns the value of attribute key in kvs ("" if absent).
func Attr(kvs []KV, key string) string {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value
		}
	}
	return ""
}

// EncodeKVs appends kvs to e; DecodeKVs reads them back. Both stores store
// attributes this way (docs/format/segment.md, "kvs").
func EncodeKVs(e *segment.Enc, kvs []KV) {
	e.Uvarint(uint64(len(kvs)))
	for _, kv := range kvs {
		e.String(kv.Key)
		e.Uvarint(uint64(kv.Type))
		e.String(kv.Value)
	}
}

// DecodeKVs reads attributes written by EncodeKVs; nil for none.
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
