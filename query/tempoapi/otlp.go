package tempoapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/storage/record"
)

// ToTraces converts stored spans into OTLP traces: one ResourceSpans per
// distinct resource and, inside it, one ScopeSpans per distinct scope, both
// in order of first appearance, spans in the order given. Every field of a
// span is kept (events, links, trace state, flags, dropped counts). Typed
// attribute values are turned back into OTLP values: ints, doubles and
// booleans from their text, bytes from base64, arrays and maps from their
// JSON. JSON cannot tell 2.0 from 2, so a double with no fraction inside an
// array or map comes back as an int, and bytes inside them come back as
// their base64 string; a value whose text does not parse comes back as a
// string.
func ToTraces(spans []*record.Span) ptrace.Traces {
	td := ptrace.NewTraces()
	type resourceGroup struct {
		rs     ptrace.ResourceSpans
		scopes map[string]ptrace.ScopeSpans
	}
	resources := map[string]*resourceGroup{}
	var key strings.Builder
	for _, s := range spans {
		key.Reset()
		writeKVsKey(&key, s.Resource)
		g := resources[key.String()]
		if g == nil {
			g = &resourceGroup{rs: td.ResourceSpans().AppendEmpty(), scopes: map[string]ptrace.ScopeSpans{}}
			putKVs(g.rs.Resource().Attributes(), s.Resource)
			resources[key.String()] = g
		}
		key.Reset()
		writeKey(&key, s.ScopeName)
		writeKey(&key, s.ScopeVersion)
		writeKVsKey(&key, s.ScopeAttributes)
		ss, ok := g.scopes[key.String()]
		if !ok {
			ss = g.rs.ScopeSpans().AppendEmpty()
			ss.Scope().SetName(s.ScopeName)
			ss.Scope().SetVersion(s.ScopeVersion)
			putKVs(ss.Scope().Attributes(), s.ScopeAttributes)
			g.scopes[key.String()] = ss
		}
		putSpan(ss.Spans().AppendEmpty(), s)
	}
	return td
}

// writeKey appends s to a grouping key; the length prefix keeps ("ab","c")
// and ("a","bc") apart.
func writeKey(b *strings.Builder, s string) {
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteByte(':')
	b.WriteString(s)
}

func writeKVsKey(b *strings.Builder, kvs []record.KV) {
	b.WriteString(strconv.Itoa(len(kvs)))
	b.WriteByte('|')
	for _, kv := range kvs {
		writeKey(b, kv.Key)
		b.WriteByte(byte('0' + kv.Type))
		writeKey(b, kv.Value)
	}
}

func putSpan(sp ptrace.Span, s *record.Span) {
	sp.SetTraceID(pcommon.TraceID(s.TraceID))
	sp.SetSpanID(pcommon.SpanID(s.SpanID))
	sp.SetParentSpanID(pcommon.SpanID(s.ParentSpanID))
	sp.TraceState().FromRaw(s.TraceState)
	sp.SetFlags(s.Flags)
	sp.SetName(s.Name)
	sp.SetKind(ptrace.SpanKind(s.Kind))
	sp.SetStartTimestamp(timestamp(s.Start))
	sp.SetEndTimestamp(timestamp(s.End))
	putKVs(sp.Attributes(), s.Attributes)
	sp.SetDroppedAttributesCount(s.DroppedAttributesCount)
	for _, e := range s.Events {
		pe := sp.Events().AppendEmpty()
		pe.SetTimestamp(timestamp(e.Time))
		pe.SetName(e.Name)
		putKVs(pe.Attributes(), e.Attributes)
		pe.SetDroppedAttributesCount(e.DroppedAttributesCount)
	}
	sp.SetDroppedEventsCount(s.DroppedEventsCount)
	for _, l := range s.Links {
		pl := sp.Links().AppendEmpty()
		pl.SetTraceID(pcommon.TraceID(l.TraceID))
		pl.SetSpanID(pcommon.SpanID(l.SpanID))
		pl.TraceState().FromRaw(l.TraceState)
		pl.SetFlags(l.Flags)
		putKVs(pl.Attributes(), l.Attributes)
		pl.SetDroppedAttributesCount(l.DroppedAttributesCount)
	}
	sp.SetDroppedLinksCount(s.DroppedLinksCount)
	sp.Status().SetCode(ptrace.StatusCode(s.StatusCode))
	sp.Status().SetMessage(s.StatusMessage)
}

// timestamp converts unix nanoseconds; OTLP's are unsigned, so times before
// 1970 (which no sender means) become 0.
func timestamp(ns int64) pcommon.Timestamp { return pcommon.Timestamp(max(ns, 0)) }

func putKVs(m pcommon.Map, kvs []record.KV) {
	if len(kvs) == 0 {
		return
	}
	m.EnsureCapacity(len(kvs))
	for _, kv := range kvs {
		setValue(m.PutEmpty(kv.Key), kv.Type, kv.Value)
	}
}

// setValue sets v from a stored value: text s of type t.
func setValue(v pcommon.Value, t record.ValueType, s string) {
	switch t {
	case record.TypeEmpty:
		return
	case record.TypeString:
		v.SetStr(s)
		return
	case record.TypeInt:
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			v.SetInt(i)
			return
		}
	case record.TypeDouble:
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			v.SetDouble(f)
			return
		}
	case record.TypeBool:
		if b, err := strconv.ParseBool(s); err == nil {
			v.SetBool(b)
			return
		}
	case record.TypeBytes:
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			v.SetEmptyBytes().FromRaw(b)
			return
		}
	case record.TypeArray, record.TypeMap:
		if setJSON(v, s, t == record.TypeMap) == nil {
			return
		}
	}
	v.SetStr(s)
}

// maxJSONDepth bounds the nesting of array and map values decoded, so a
// hostile attribute cannot exhaust the stack.
const maxJSONDepth = 64

var errBadJSON = errors.New("bad JSON value")

// setJSON sets v from the JSON text of an array (or a map when isMap),
// keeping the order of map keys as written.
func setJSON(v pcommon.Value, s string, isMap bool) error {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || (isMap && d != '{') || (!isMap && d != '[') {
		return errBadJSON
	}
	if err := decodeJSON(dec, v, tok, 0); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadJSON
	}
	return nil
}

// decodeJSON sets v from the JSON value that starts with tok.
func decodeJSON(dec *json.Decoder, v pcommon.Value, tok json.Token, depth int) error {
	if depth > maxJSONDepth {
		return errBadJSON
	}
	switch tok := tok.(type) {
	case nil:
		// JSON null is how an empty OTLP value is written.
	case string:
		v.SetStr(tok)
	case bool:
		v.SetBool(tok)
	case json.Number:
		if i, err := tok.Int64(); err == nil {
			v.SetInt(i)
		} else if f, err := tok.Float64(); err == nil {
			v.SetDouble(f)
		} else {
			v.SetStr(tok.String())
		}
	case json.Delim:
		switch tok {
		case '[':
			sl := v.SetEmptySlice()
			for dec.More() {
				t, err := dec.Token()
				if err != nil {
					return err
				}
				if err := decodeJSON(dec, sl.AppendEmpty(), t, depth+1); err != nil {
					return err
				}
			}
		case '{':
			m := v.SetEmptyMap()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key, ok := k.(string)
				if !ok {
					return errBadJSON
				}
				t, err := dec.Token()
				if err != nil {
					return err
				}
				if err := decodeJSON(dec, m.PutEmpty(key), t, depth+1); err != nil {
					return err
				}
			}
		default:
			return errBadJSON
		}
		if _, err := dec.Token(); err != nil { // the closing ] or }
			return err
		}
	default:
		return errBadJSON
	}
	return nil
}
