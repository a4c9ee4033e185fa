package tempoapi

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/storage/record"
)

var (
	traceA = [16]byte{0, 0, 0, 0, 0, 0, 0, 0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8}
	traceB = [16]byte{0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf, 0xb0}
)

func kv(k, v string, t record.ValueType) record.KV {
	return record.KV{Key: k, Value: v, Type: t}
}

// testSpans is one trace (traceA) of three spans over two resources and,
// in the first, two scopes, with every field and every value type set.
func testSpans() []*record.Span {
	apiRes := []record.KV{kv("service.name", "api", record.TypeString), kv("host.cpus", "8", record.TypeInt)}
	dbRes := []record.KV{kv("service.name", "db", record.TypeString)}
	return []*record.Span{
		{
			TraceID: traceA, SpanID: [8]byte{1, 1, 1, 1, 1, 1, 1, 1},
			TraceState: "vendor=a", Flags: 1, Name: "GET /users", Kind: record.KindServer,
			Start: 1_700_000_000_000_000_000, End: 1_700_000_000_250_000_000,
			StatusCode: record.StatusError, StatusMessage: "boom",
			Attributes: []record.KV{
				kv("http.method", "GET", record.TypeString),
				kv("http.status_code", "500", record.TypeInt),
				kv("ratio", "1.5", record.TypeDouble),
				kv("cache.hit", "false", record.TypeBool),
				kv("payload", "AAEC/w==", record.TypeBytes),
				kv("tags", `[1,"a",true,1.5,[2],{"k":"v"},null]`, record.TypeArray),
				// Sorted keys: the ingest path writes maps with encoding/json.
				kv("headers", `{"a":{"c":[true]},"b":1}`, record.TypeMap),
				kv("nothing", "", record.TypeEmpty),
			},
			DroppedAttributesCount: 2,
			Events: []record.Event{
				{Time: 1_700_000_000_100_000_000, Name: "exception", Attributes: []record.KV{kv("exception.message", "bad", record.TypeString)}, DroppedAttributesCount: 1},
				{Time: 1_700_000_000_200_000_000, Name: "retry"},
			},
			DroppedEventsCount: 3,
			Links: []record.Link{
				{TraceID: traceB, SpanID: [8]byte{9, 9, 9, 9, 9, 9, 9, 9}, TraceState: "x=y", Flags: 1, Attributes: []record.KV{kv("link.kind", "follows", record.TypeString)}, DroppedAttributesCount: 4},
			},
			DroppedLinksCount: 5,
			Resource:          apiRes,
			ScopeName:         "net/http", ScopeVersion: "1.0", ScopeAttributes: []record.KV{kv("lib", "std", record.TypeString)},
		},
		{
			TraceID: traceA, SpanID: [8]byte{2, 2, 2, 2, 2, 2, 2, 2}, ParentSpanID: [8]byte{1, 1, 1, 1, 1, 1, 1, 1},
			Name: "SELECT users", Kind: record.KindClient,
			Start: 1_700_000_000_010_000_000, End: 1_700_000_000_200_000_000,
			StatusCode: record.StatusOK,
			Resource:   dbRes, ScopeName: "database/sql",
		},
		{
			TraceID: traceA, SpanID: [8]byte{3, 3, 3, 3, 3, 3, 3, 3}, ParentSpanID: [8]byte{1, 1, 1, 1, 1, 1, 1, 1},
			Name: "render", Kind: record.KindInternal,
			Start: 1_700_000_000_020_000_000, End: 1_700_000_000_030_000_000,
			Resource: apiRes, ScopeName: "app",
		},
	}
}

func TestToTracesGroups(t *testing.T) {
	td := ToTraces(testSpans())
	require.Equal(t, 3, td.SpanCount())
	rss := td.ResourceSpans()
	require.Equal(t, 2, rss.Len(), "one ResourceSpans per distinct resource")
	api, db := rss.At(0), rss.At(1)
	svc, _ := api.Resource().Attributes().Get("service.name")
	require.Equal(t, "api", svc.Str())
	require.Equal(t, 2, api.ScopeSpans().Len(), "one ScopeSpans per distinct scope")
	require.Equal(t, "net/http", api.ScopeSpans().At(0).Scope().Name())
	require.Equal(t, "app", api.ScopeSpans().At(1).Scope().Name())
	require.Equal(t, 1, db.ScopeSpans().Len())
	require.Equal(t, "SELECT users", db.ScopeSpans().At(0).Spans().At(0).Name())
}

func TestToTracesRoundTrip(t *testing.T) {
	want := testSpans()
	got := fromTraces(ToTraces(want))
	// fromTraces returns spans grouped as ToTraces wrote them.
	require.Equal(t, []*record.Span{want[0], want[2], want[1]}, got)
}

func TestToTracesValues(t *testing.T) {
	f := func(typ record.ValueType, in string, wantType pcommon.ValueType, want any) {
		t.Helper()
		td := ToTraces([]*record.Span{{Attributes: []record.KV{kv("k", in, typ)}}})
		v, ok := td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().Get("k")
		require.True(t, ok)
		require.Equal(t, wantType, v.Type())
		require.Equal(t, want, v.AsRaw())
	}
	f(record.TypeInt, "-42", pcommon.ValueTypeInt, int64(-42))
	f(record.TypeDouble, "-1e+21", pcommon.ValueTypeDouble, -1e21)
	f(record.TypeBytes, "AAE=", pcommon.ValueTypeBytes, []byte{0, 1})
	f(record.TypeArray, `[1, 2.5, "x", {"a": null}]`, pcommon.ValueTypeSlice, []any{int64(1), 2.5, "x", map[string]any{"a": nil}})
	f(record.TypeMap, `{"z": 1, "a": [true]}`, pcommon.ValueTypeMap, map[string]any{"z": int64(1), "a": []any{true}})
	// Text that does not parse as its type comes back as a string.
	f(record.TypeInt, "12x", pcommon.ValueTypeStr, "12x")
	f(record.TypeBool, "yes", pcommon.ValueTypeStr, "yes")
	f(record.TypeBytes, "!!", pcommon.ValueTypeStr, "!!")
	f(record.TypeArray, `{"a":1}`, pcommon.ValueTypeStr, `{"a":1}`)
	f(record.TypeMap, `{"a":1} x`, pcommon.ValueTypeStr, `{"a":1} x`)
	f(record.TypeArray, `[1,`, pcommon.ValueTypeStr, `[1,`)
}

// fromTraces is the inverse of ToTraces, written as the ingest path stores
// OTLP values (exporters/logsexporter.Value).
func fromTraces(td ptrace.Traces) []*record.Span {
	var out []*record.Span
	for i := range td.ResourceSpans().Len() {
		rs := td.ResourceSpans().At(i)
		for j := range rs.ScopeSpans().Len() {
			ss := rs.ScopeSpans().At(j)
			for k := range ss.Spans().Len() {
				sp := ss.Spans().At(k)
				s := &record.Span{
					TraceID: sp.TraceID(), SpanID: sp.SpanID(), ParentSpanID: sp.ParentSpanID(),
					TraceState: sp.TraceState().AsRaw(), Flags: sp.Flags(), Name: sp.Name(), Kind: int32(sp.Kind()),
					Start: int64(sp.StartTimestamp()), End: int64(sp.EndTimestamp()),
					StatusCode: int32(sp.Status().Code()), StatusMessage: sp.Status().Message(),
					Attributes: kvsOf(sp.Attributes()), DroppedAttributesCount: sp.DroppedAttributesCount(),
					DroppedEventsCount: sp.DroppedEventsCount(), DroppedLinksCount: sp.DroppedLinksCount(),
					Resource:  kvsOf(rs.Resource().Attributes()),
					ScopeName: ss.Scope().Name(), ScopeVersion: ss.Scope().Version(), ScopeAttributes: kvsOf(ss.Scope().Attributes()),
				}
				for e := range sp.Events().Len() {
					ev := sp.Events().At(e)
					s.Events = append(s.Events, record.Event{Time: int64(ev.Timestamp()), Name: ev.Name(), Attributes: kvsOf(ev.Attributes()), DroppedAttributesCount: ev.DroppedAttributesCount()})
				}
				for l := range sp.Links().Len() {
					ln := sp.Links().At(l)
					s.Links = append(s.Links, record.Link{TraceID: ln.TraceID(), SpanID: ln.SpanID(), TraceState: ln.TraceState().AsRaw(), Flags: ln.Flags(), Attributes: kvsOf(ln.Attributes()), DroppedAttributesCount: ln.DroppedAttributesCount()})
				}
				out = append(out, s)
			}
		}
	}
	return out
}

func kvsOf(m pcommon.Map) []record.KV {
	if m.Len() == 0 {
		return nil
	}
	types := map[pcommon.ValueType]record.ValueType{
		pcommon.ValueTypeEmpty: record.TypeEmpty, pcommon.ValueTypeStr: record.TypeString,
		pcommon.ValueTypeInt: record.TypeInt, pcommon.ValueTypeDouble: record.TypeDouble,
		pcommon.ValueTypeBool: record.TypeBool, pcommon.ValueTypeBytes: record.TypeBytes,
		pcommon.ValueTypeSlice: record.TypeArray, pcommon.ValueTypeMap: record.TypeMap,
	}
	var out []record.KV
	m.Range(func(k string, v pcommon.Value) bool {
		out = append(out, record.KV{Key: k, Value: v.AsString(), Type: types[v.Type()]})
		return true
	})
	return out
}
