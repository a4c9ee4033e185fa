package tempoapi

import (
	"encoding/json"
	"math"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// The types below write traces as Tempo does: its tempopb.Trace (OTLP's
// messages regenerated with gogo) marshalled by gogo's jsonpb with default
// options. That differs from OTLP/JSON as the collector writes it: IDs are
// base64 (bytes fields), not hex; kind and status code are enum names
// ("SPAN_KIND_SERVER"), not numbers; zero fields are left out; 64-bit
// integers are strings. Resource, scope and status are always written, as
// Tempo's trace combiner leaves them set. See grafana/tempo
// pkg/tempopb/trace_utils.go (MarshalToJSONV1) and the example in
// docs/sources/tempo/api_docs/pushing-spans-with-http.md.

type jsonTrace struct {
	ResourceSpans []jsonResourceSpans `json:"resourceSpans,omitempty"`
}

// jsonTraceV1 is the v1 trace by ID body: Tempo renames resourceSpans to
// batches there for older clients.
type jsonTraceV1 struct {
	Batches []jsonResourceSpans `json:"batches,omitempty"`
}

type jsonResourceSpans struct {
	Resource   jsonResource     `json:"resource"`
	ScopeSpans []jsonScopeSpans `json:"scopeSpans,omitempty"`
	SchemaURL  string           `json:"schemaUrl,omitempty"`
}

type jsonResource struct {
	Attributes             []jsonKeyValue `json:"attributes,omitempty"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

type jsonScopeSpans struct {
	Scope     jsonScope  `json:"scope"`
	Spans     []jsonSpan `json:"spans,omitempty"`
	SchemaURL string     `json:"schemaUrl,omitempty"`
}

type jsonScope struct {
	Name                   string         `json:"name,omitempty"`
	Version                string         `json:"version,omitempty"`
	Attributes             []jsonKeyValue `json:"attributes,omitempty"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

// jsonSpan's fields are in proto field order, as jsonpb writes them.
type jsonSpan struct {
	TraceID                []byte         `json:"traceId,omitempty"`
	SpanID                 []byte         `json:"spanId,omitempty"`
	TraceState             string         `json:"traceState,omitempty"`
	ParentSpanID           []byte         `json:"parentSpanId,omitempty"`
	Flags                  uint32         `json:"flags,omitempty"`
	Name                   string         `json:"name,omitempty"`
	Kind                   any            `json:"kind,omitempty"` // enum name, or number if unknown
	StartTimeUnixNano      uint64         `json:"startTimeUnixNano,omitempty,string"`
	EndTimeUnixNano        uint64         `json:"endTimeUnixNano,omitempty,string"`
	Attributes             []jsonKeyValue `json:"attributes,omitempty"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
	Events                 []jsonEvent    `json:"events,omitempty"`
	DroppedEventsCount     uint32         `json:"droppedEventsCount,omitempty"`
	Links                  []jsonLink     `json:"links,omitempty"`
	DroppedLinksCount      uint32         `json:"droppedLinksCount,omitempty"`
	Status                 jsonStatus     `json:"status"`
}

type jsonEvent struct {
	TimeUnixNano           uint64         `json:"timeUnixNano,omitempty,string"`
	Name                   string         `json:"name,omitempty"`
	Attributes             []jsonKeyValue `json:"attributes,omitempty"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
}

type jsonLink struct {
	TraceID                []byte         `json:"traceId,omitempty"`
	SpanID                 []byte         `json:"spanId,omitempty"`
	TraceState             string         `json:"traceState,omitempty"`
	Attributes             []jsonKeyValue `json:"attributes,omitempty"`
	DroppedAttributesCount uint32         `json:"droppedAttributesCount,omitempty"`
	Flags                  uint32         `json:"flags,omitempty"`
}

type jsonStatus struct {
	Message string `json:"message,omitempty"`
	Code    any    `json:"code,omitempty"` // enum name, or number if unknown
}

type jsonKeyValue struct {
	Key   string       `json:"key,omitempty"`
	Value jsonAnyValue `json:"value"`
}

// jsonAnyValue is OTLP's AnyValue, a oneof: the one field set is written
// even when it holds its zero value ({"boolValue":false}), none for an
// empty value ({}).
type jsonAnyValue struct {
	StringValue *string        `json:"stringValue,omitempty"`
	BoolValue   *bool          `json:"boolValue,omitempty"`
	IntValue    *int64         `json:"intValue,omitempty,string"`
	DoubleValue *jsonDouble    `json:"doubleValue,omitempty"`
	ArrayValue  *jsonValueList `json:"arrayValue,omitempty"`
	KvlistValue *jsonKVList    `json:"kvlistValue,omitempty"`
	BytesValue  *[]byte        `json:"bytesValue,omitempty"`
}

type jsonValueList struct {
	Values []jsonAnyValue `json:"values,omitempty"`
}

type jsonKVList struct {
	Values []jsonKeyValue `json:"values,omitempty"`
}

// jsonDouble writes NaN and infinities as proto3 JSON does ("NaN",
// "Infinity", "-Infinity"); encoding/json refuses them.
type jsonDouble float64

func (d jsonDouble) MarshalJSON() ([]byte, error) {
	f := float64(d)
	switch {
	case math.IsNaN(f):
		return []byte(`"NaN"`), nil
	case math.IsInf(f, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(f, -1):
		return []byte(`"-Infinity"`), nil
	}
	return json.Marshal(f)
}

var spanKindNames = map[ptrace.SpanKind]string{
	ptrace.SpanKindInternal: "SPAN_KIND_INTERNAL",
	ptrace.SpanKindServer:   "SPAN_KIND_SERVER",
	ptrace.SpanKindClient:   "SPAN_KIND_CLIENT",
	ptrace.SpanKindProducer: "SPAN_KIND_PRODUCER",
	ptrace.SpanKindConsumer: "SPAN_KIND_CONSUMER",
}

var statusCodeNames = map[ptrace.StatusCode]string{
	ptrace.StatusCodeOk:    "STATUS_CODE_OK",
	ptrace.StatusCodeError: "STATUS_CODE_ERROR",
}

// enumJSON is an enum as jsonpb writes it: nothing for 0, the name for a
// known value, the number otherwise.
func enumJSON[T ~int32](v T, names map[T]string) any {
	if v == 0 {
		return nil
	}
	if n, ok := names[v]; ok {
		return n
	}
	return int32(v)
}

func toJSONTrace(td ptrace.Traces) jsonTrace {
	var out jsonTrace
	rss := td.ResourceSpans()
	if rss.Len() > 0 {
		out.ResourceSpans = make([]jsonResourceSpans, 0, rss.Len())
	}
	for i := range rss.Len() {
		rs := rss.At(i)
		jrs := jsonResourceSpans{
			Resource: jsonResource{
				Attributes:             jsonAttributes(rs.Resource().Attributes()),
				DroppedAttributesCount: rs.Resource().DroppedAttributesCount(),
			},
			SchemaURL: rs.SchemaUrl(),
		}
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			jss := jsonScopeSpans{
				Scope: jsonScope{
					Name:                   ss.Scope().Name(),
					Version:                ss.Scope().Version(),
					Attributes:             jsonAttributes(ss.Scope().Attributes()),
					DroppedAttributesCount: ss.Scope().DroppedAttributesCount(),
				},
				Spans:     make([]jsonSpan, 0, ss.Spans().Len()),
				SchemaURL: ss.SchemaUrl(),
			}
			for k := range ss.Spans().Len() {
				jss.Spans = append(jss.Spans, jsonSpanOf(ss.Spans().At(k)))
			}
			jrs.ScopeSpans = append(jrs.ScopeSpans, jss)
		}
		out.ResourceSpans = append(out.ResourceSpans, jrs)
	}
	return out
}

func jsonSpanOf(sp ptrace.Span) jsonSpan {
	js := jsonSpan{
		TraceID:                traceIDBytes(sp.TraceID()),
		SpanID:                 spanIDBytes(sp.SpanID()),
		TraceState:             sp.TraceState().AsRaw(),
		ParentSpanID:           spanIDBytes(sp.ParentSpanID()),
		Flags:                  sp.Flags(),
		Name:                   sp.Name(),
		Kind:                   enumJSON(sp.Kind(), spanKindNames),
		StartTimeUnixNano:      uint64(sp.StartTimestamp()),
		EndTimeUnixNano:        uint64(sp.EndTimestamp()),
		Attributes:             jsonAttributes(sp.Attributes()),
		DroppedAttributesCount: sp.DroppedAttributesCount(),
		DroppedEventsCount:     sp.DroppedEventsCount(),
		DroppedLinksCount:      sp.DroppedLinksCount(),
		Status: jsonStatus{
			Message: sp.Status().Message(),
			Code:    enumJSON(sp.Status().Code(), statusCodeNames),
		},
	}
	for i := range sp.Events().Len() {
		e := sp.Events().At(i)
		js.Events = append(js.Events, jsonEvent{
			TimeUnixNano:           uint64(e.Timestamp()),
			Name:                   e.Name(),
			Attributes:             jsonAttributes(e.Attributes()),
			DroppedAttributesCount: e.DroppedAttributesCount(),
		})
	}
	for i := range sp.Links().Len() {
		l := sp.Links().At(i)
		js.Links = append(js.Links, jsonLink{
			TraceID:                traceIDBytes(l.TraceID()),
			SpanID:                 spanIDBytes(l.SpanID()),
			TraceState:             l.TraceState().AsRaw(),
			Attributes:             jsonAttributes(l.Attributes()),
			DroppedAttributesCount: l.DroppedAttributesCount(),
			Flags:                  l.Flags(),
		})
	}
	return js
}

// traceIDBytes and spanIDBytes are IDs as bytes fields: nil (left out)
// when all zero, as for a root span's parent, which Tempo stores empty.
func traceIDBytes(id pcommon.TraceID) []byte {
	if id.IsEmpty() {
		return nil
	}
	return id[:]
}

func spanIDBytes(id pcommon.SpanID) []byte {
	if id.IsEmpty() {
		return nil
	}
	return id[:]
}

func jsonAttributes(m pcommon.Map) []jsonKeyValue {
	if m.Len() == 0 {
		return nil
	}
	out := make([]jsonKeyValue, 0, m.Len())
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, jsonKeyValue{Key: k, Value: jsonValue(v)})
		return true
	})
	return out
}

func jsonValue(v pcommon.Value) jsonAnyValue {
	var jv jsonAnyValue
	switch v.Type() {
	case pcommon.ValueTypeStr:
		s := v.Str()
		jv.StringValue = &s
	case pcommon.ValueTypeBool:
		b := v.Bool()
		jv.BoolValue = &b
	case pcommon.ValueTypeInt:
		i := v.Int()
		jv.IntValue = &i
	case pcommon.ValueTypeDouble:
		d := jsonDouble(v.Double())
		jv.DoubleValue = &d
	case pcommon.ValueTypeBytes:
		b := append([]byte{}, v.Bytes().AsRaw()...) // never nil: "" not null
		jv.BytesValue = &b
	case pcommon.ValueTypeSlice:
		sl := v.Slice()
		list := &jsonValueList{}
		for i := range sl.Len() {
			list.Values = append(list.Values, jsonValue(sl.At(i)))
		}
		jv.ArrayValue = list
	case pcommon.ValueTypeMap:
		jv.KvlistValue = &jsonKVList{Values: jsonAttributes(v.Map())}
	}
	return jv
}
