package traceql

import (
	"strconv"
	"time"

	"github.com/sightline-dev/sightline/storage/record"
)

// ValueType of an attribute value.
type ValueType uint8

// The types an attribute value can have. The zero ValueType marks a Value
// that holds nothing; a query sees it as a missing attribute.
const (
	TypeString ValueType = iota + 1
	TypeInt
	TypeFloat
	TypeBool
)

func (t ValueType) String() string {
	switch t {
	case TypeString:
		return "string"
	case TypeInt:
		return "int"
	case TypeFloat:
		return "float"
	case TypeBool:
		return "bool"
	}
	return "ValueType(" + strconv.Itoa(int(t)) + ")"
}

// Value is an attribute value; only the field that Type names is meaningful.
type Value struct {
	Type  ValueType
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// StringValue, IntValue, FloatValue and BoolValue build a Value of one type.
func StringValue(s string) Value { return Value{Type: TypeString, Str: s} }

// IntValue returns an int Value.
func IntValue(i int64) Value { return Value{Type: TypeInt, Int: i} }

// FloatValue returns a float Value.
func FloatValue(f float64) Value { return Value{Type: TypeFloat, Float: f} }

// BoolValue returns a bool Value.
func BoolValue(b bool) Value { return Value{Type: TypeBool, Bool: b} }

func (v Value) String() string {
	switch v.Type {
	case TypeString:
		return strconv.Quote(v.Str)
	case TypeInt:
		return strconv.FormatInt(v.Int, 10)
	case TypeFloat:
		return formatFloat(v.Float)
	case TypeBool:
		return strconv.FormatBool(v.Bool)
	}
	return "nil"
}

// Span is what a query sees of a span.
type Span struct {
	SpanID, ParentSpanID [8]byte // ParentSpanID all zero for a root
	Name                 string
	// Kind is "server", "client", "producer", "consumer", "internal" or
	// "unspecified" (case-insensitive; "" and OTLP's "SPAN_KIND_SERVER" forms
	// are accepted too).
	Kind string
	// StatusCode is "ok", "error" or "unset" (case-insensitive; "" and OTLP's
	// "STATUS_CODE_ERROR" forms are accepted too).
	StatusCode    string
	StatusMessage string
	Start         time.Time
	Duration      time.Duration
	Attributes    map[string]Value // span attributes
	Resource      map[string]Value // resource attributes, including service.name
}

// StoredValue is a stored attribute value as TraceQL sees it: strings,
// ints, doubles and booleans typed (an int or double whose text does not
// parse is a string); ok is false for the other types (bytes, arrays, maps,
// empty), which TraceQL cannot compare and sees as absent.
func StoredValue(text string, t record.ValueType) (v Value, ok bool) {
	switch t {
	case record.TypeString:
	case record.TypeInt:
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			return IntValue(i), true
		}
	case record.TypeDouble:
		if f, err := strconv.ParseFloat(text, 64); err == nil {
			return FloatValue(f), true
		}
	case record.TypeBool:
		return BoolValue(text == "true"), true
	default:
		return Value{}, false
	}
	return StringValue(text), true
}

// storedAttrs is what TraceQL sees of stored attributes.
func storedAttrs(kvs []record.KV) map[string]Value {
	m := make(map[string]Value, len(kvs))
	for _, kv := range kvs {
		if v, ok := StoredValue(kv.Value, kv.Type); ok {
			m[kv.Key] = v
		}
	}
	return m
}

// storedSpan is what TraceQL sees of a stored span; resource and attrs are
// what it sees of s.Resource (storedAttrs, shared by the spans of a
// resource) and of s.Attributes (nil when the query reads none).
func storedSpan(s *record.Span, resource, attrs map[string]Value) Span {
	return Span{
		SpanID:        s.SpanID,
		ParentSpanID:  s.ParentSpanID,
		Name:          s.Name,
		Kind:          record.KindName(s.Kind),
		StatusCode:    record.StatusName(s.StatusCode),
		StatusMessage: s.StatusMessage,
		Start:         time.Unix(0, s.Start),
		Duration:      s.Duration(),
		Attributes:    attrs,
		Resource:      resource,
	}
}
