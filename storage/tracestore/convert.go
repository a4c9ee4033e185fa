package tracestore

import (
	"strconv"
	"strings"
	"time"

	"github.com/sightline-dev/sightline/query/traceql"
	"github.com/sightline-dev/sightline/storage/logstore"
)

// queryType is the TraceQL type of a stored value type; 0 for the types
// TraceQL cannot compare (bytes, arrays, maps, empty).
func queryType(t logstore.ValueType) traceql.ValueType {
	switch t {
	case logstore.TypeString:
		return traceql.TypeString
	case logstore.TypeInt:
		return traceql.TypeInt
	case logstore.TypeDouble:
		return traceql.TypeFloat
	case logstore.TypeBool:
		return traceql.TypeBool
	}
	return 0
}

// typedValue parses a stored value text of TraceQL type t.
func typedValue(v string, t traceql.ValueType) traceql.Value {
	switch t {
	case traceql.TypeInt:
		if i, err := strconv.ParseInt(v, 10, 64); err == nil {
			return traceql.IntValue(i)
		}
	case traceql.TypeFloat:
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return traceql.FloatValue(f)
		}
	case traceql.TypeBool:
		return traceql.BoolValue(v == "true")
	}
	return traceql.StringValue(v)
}

func queryAttrs(kvs []KV) map[string]traceql.Value {
	m := make(map[string]traceql.Value, len(kvs))
	for _, kv := range kvs {
		if t := queryType(kv.Type); t != 0 {
			m[kv.Key] = typedValue(kv.Value, t)
		}
	}
	return m
}

var kindNames = [...]string{"unspecified", "internal", "server", "client", "producer", "consumer"}
var statusNames = [...]string{"unset", "ok", "error"}

// KindName is TraceQL's name of an OTLP span kind ("server", ...).
func KindName(k int32) string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unspecified"
}

// StatusName is TraceQL's name of an OTLP status code ("error", ...).
func StatusName(c int32) string {
	if c >= 0 && int(c) < len(statusNames) {
		return statusNames[c]
	}
	return "unset"
}

// querySpan is what TraceQL sees of s; resource is what it sees of
// s.Resource.
func querySpan(s *Span, resource map[string]traceql.Value) traceql.Span {
	return traceql.Span{
		SpanID:        s.SpanID,
		ParentSpanID:  s.ParentSpanID,
		Name:          s.Name,
		Kind:          KindName(s.Kind),
		StatusCode:    StatusName(s.StatusCode),
		StatusMessage: s.StatusMessage,
		Start:         time.Unix(0, s.Start),
		Duration:      s.Duration(),
		Attributes:    queryAttrs(s.Attributes),
		Resource:      resource,
	}
}

// parseTag splits a tag named in TraceQL form ("resource.service.name",
// "span.http.method", ".x", or a bare "x" as Tempo's v1 API has them) into
// scope and key; intrinsic is set for the span name ("name").
func parseTag(tag string) (scope traceql.Scope, key string, intrinsic bool) {
	switch {
	case tag == "name":
		return traceql.ScopeNone, "", true
	case strings.HasPrefix(tag, "resource."):
		return traceql.ScopeResource, strings.TrimPrefix(tag, "resource."), false
	case strings.HasPrefix(tag, "span."):
		return traceql.ScopeSpan, strings.TrimPrefix(tag, "span."), false
	}
	return traceql.ScopeNone, strings.TrimPrefix(tag, "."), false
}
