package tempoapi

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sightline-dev/sightline/storage/record"
)

// tempoMetricsProto describes tempopb's QueryRangeResponse and
// QueryInstantResponse (pkg/tempopb/tempo.proto) with OTLP's KeyValue, so
// that the tests can decode both encodings with the protobuf library and
// compare them.
func tempoMetricsProto(t *testing.T) protoreflect.FileDescriptor {
	t.Helper()
	type field struct {
		name   string
		num    int32
		typ    string // "string", "message", ...: the type's name in descriptor.proto, without TYPE_
		msg    string // message or enum type
		repeat bool
		oneof  bool
	}
	msg := func(name string, fields ...field) *descriptorpb.DescriptorProto {
		d := &descriptorpb.DescriptorProto{Name: proto.String(name)}
		for _, f := range fields {
			fd := &descriptorpb.FieldDescriptorProto{
				Name: proto.String(f.name), Number: proto.Int32(f.num),
				Type:  descriptorpb.FieldDescriptorProto_Type(descriptorpb.FieldDescriptorProto_Type_value["TYPE_"+strings.ToUpper(f.typ)]).Enum(),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}
			if f.repeat {
				fd.Label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum()
			}
			if f.msg != "" {
				fd.TypeName = proto.String(".tempopb." + f.msg)
			}
			if f.oneof {
				fd.OneofIndex = proto.Int32(0)
			}
			d.Field = append(d.Field, fd)
		}
		return d
	}
	anyValue := msg("AnyValue",
		field{"string_value", 1, "string", "", false, true}, field{"bool_value", 2, "bool", "", false, true},
		field{"int_value", 3, "int64", "", false, true}, field{"double_value", 4, "double", "", false, true})
	anyValue.OneofDecl = []*descriptorpb.OneofDescriptorProto{{Name: proto.String("value")}}
	response := func(name, series string) *descriptorpb.DescriptorProto {
		return msg(name, field{"series", 1, "message", series, true, false}, field{"metrics", 2, "message", "SearchMetrics", false, false},
			field{"status", 3, "enum", "PartialStatus", false, false}, field{"message", 4, "string", "", false, false})
	}
	fdp := &descriptorpb.FileDescriptorProto{
		Name: proto.String("tempo_metrics_test.proto"), Package: proto.String("tempopb"), Syntax: proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{Name: proto.String("PartialStatus"), Value: []*descriptorpb.EnumValueDescriptorProto{
			{Name: proto.String("COMPLETE"), Number: proto.Int32(0)}, {Name: proto.String("PARTIAL"), Number: proto.Int32(1)},
		}}},
		MessageType: []*descriptorpb.DescriptorProto{
			anyValue,
			msg("KeyValue", field{"key", 1, "string", "", false, false}, field{"value", 2, "message", "AnyValue", false, false}),
			msg("Sample", field{"timestamp_ms", 2, "int64", "", false, false}, field{"value", 1, "double", "", false, false}),
			msg("Exemplar", field{"labels", 1, "message", "KeyValue", true, false}, field{"value", 2, "double", "", false, false},
				field{"timestamp_ms", 3, "int64", "", false, false}),
			msg("TimeSeries", field{"labels", 1, "message", "KeyValue", true, false}, field{"samples", 2, "message", "Sample", true, false},
				field{"exemplars", 4, "message", "Exemplar", true, false}),
			msg("InstantSeries", field{"labels", 1, "message", "KeyValue", true, false}, field{"value", 2, "double", "", false, false}),
			msg("SearchMetrics", field{"inspectedTraces", 1, "uint32", "", false, false}, field{"inspectedBytes", 2, "uint64", "", false, false},
				field{"totalBlocks", 3, "uint32", "", false, false}, field{"completedJobs", 4, "uint32", "", false, false},
				field{"totalJobs", 5, "uint32", "", false, false}, field{"totalBlockBytes", 6, "uint64", "", false, false},
				field{"inspectedSpans", 7, "uint64", "", false, false}, field{"backendReads", 8, "uint64", "", false, false}),
			response("QueryRangeResponse", "TimeSeries"),
			response("QueryInstantResponse", "InstantSeries"),
		},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	require.NoError(t, err)
	return fd
}

// metricsTestSpans are three spans of service "a" (two of them errors, 1
// and 3 ms) and one of service "b" (2 ms), in the minute before testNow.
func metricsTestSpans() []*record.Span {
	var out []*record.Span
	add := func(n byte, svc string, at, dur time.Duration, fail bool) {
		st := testNow.Add(-time.Minute + at).UnixNano()
		sp := &record.Span{
			TraceID: [16]byte{15: n}, SpanID: [8]byte{7: n}, Name: "op", Start: st, End: st + int64(dur),
			Resource: []record.KV{{Key: "service.name", Value: svc, Type: record.TypeString}},
		}
		if fail {
			sp.StatusCode = record.StatusError
		}
		out = append(out, sp)
	}
	add(1, "a", 10*time.Second, time.Millisecond, true)
	add(2, "a", 20*time.Second, 3*time.Millisecond, true)
	add(3, "a", 40*time.Second, 3*time.Millisecond, false)
	add(4, "b", 40*time.Second, 2*time.Millisecond, false)
	return out
}

// TestMetricsJSONAndProtobuf: both encodings decode, with the protobuf
// library, to the same tempopb message, which holds the expected values.
func TestMetricsJSONAndProtobuf(t *testing.T) {
	fd := tempoMetricsProto(t)
	a := newTestAPI(t, &fakeStore{spans: metricsTestSpans()})
	decode := func(path, msgName string) *dynamicpb.Message {
		t.Helper()
		md := fd.Messages().ByName(protoreflect.Name(msgName))
		resp := get(t, a, path)
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
		require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		fromJSON := dynamicpb.NewMessage(md)
		require.NoError(t, protojson.Unmarshal([]byte(body(t, resp)), fromJSON), body(t, resp))

		resp = get(t, a, path, "Accept", "application/protobuf")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "application/protobuf", resp.Header.Get("Content-Type"))
		fromProto := dynamicpb.NewMessage(md)
		require.NoError(t, proto.Unmarshal([]byte(body(t, resp)), fromProto))
		require.True(t, proto.Equal(fromJSON, fromProto), "JSON %s\nprotobuf %s", protojson.Format(fromJSON), protojson.Format(fromProto))
		return fromProto
	}
	params := func(query string, extra ...string) string {
		v := url.Values{"q": {query}, "start": {"1699999940"}, "end": {"1700000000"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v.Encode()
	}

	m := decode("/api/metrics/query_range?"+params(`{ status = error } | count_over_time() by (resource.service.name)`, "step", "30s", "exemplars", "5"), "QueryRangeResponse")
	want := `{"series":[{"labels":[{"key":"resource.service.name","value":{"stringValue":"a"}}],` +
		`"samples":[{"timestampMs":"1699999950000","value":1},{"timestampMs":"1699999980000","value":1},{"timestampMs":"1700000010000"}],` +
		`"exemplars":[` +
		`{"labels":[{"key":"trace:id","value":{"stringValue":"00000000000000000000000000000001"}},{"key":"span:id","value":{"stringValue":"0000000000000001"}}],"value":1,"timestampMs":"1699999950000"},` +
		`{"labels":[{"key":"trace:id","value":{"stringValue":"00000000000000000000000000000002"}},{"key":"span:id","value":{"stringValue":"0000000000000002"}}],"value":1,"timestampMs":"1699999960000"}]}],` +
		`"metrics":{"completedJobs":1,"totalJobs":1}}`
	require.JSONEq(t, want, protojson.Format(m))

	// Quantiles carry a double label; a partial answer says so.
	a.opts.MaxMetricsSeries = 1
	m = decode("/api/metrics/query_range?"+params(`{} | quantile_over_time(duration, 0.5) by (resource.service.name)`, "step", "60", "exemplars", "0"), "QueryRangeResponse")
	require.JSONEq(t, `{"series":[{"labels":[{"key":"resource.service.name","value":{"stringValue":"a"}},{"key":"p","value":{"doubleValue":0.5}}],`+
		`"samples":[{"timestampMs":"1699999980000","value":0.002097152}]}],"metrics":{"completedJobs":1,"totalJobs":1},`+
		`"status":"PARTIAL","message":"Response exceeds maximum series limit of 1, a partial response is returned. Warning: the accuracy of each individual value is not guaranteed."}`,
		protojson.Format(m))
	a.opts.MaxMetricsSeries = DefaultOptions().MaxMetricsSeries

	// Instant: one value per series over [start, end].
	m = decode("/api/metrics/query?"+params(`{} | rate() by (resource.service.name)`), "QueryInstantResponse")
	require.JSONEq(t, `{"series":[`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"a"}}],"value":0.05},`+
		`{"labels":[{"key":"resource.service.name","value":{"stringValue":"b"}}],"value":0.016666666666666666}],`+
		`"metrics":{"completedJobs":1,"totalJobs":1}}`, protojson.Format(m))
}

func TestMetricsParams(t *testing.T) {
	a := newTestAPI(t, &fakeStore{spans: metricsTestSpans()})
	ok := func(target string) {
		t.Helper()
		resp := get(t, a, target)
		require.Equal(t, http.StatusOK, resp.StatusCode, body(t, resp))
	}
	bad := func(target, msg string) {
		t.Helper()
		resp := get(t, a, target)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, body(t, resp))
		require.Equal(t, msg, body(t, resp))
	}
	rate := url.QueryEscape(`{} | rate()`)
	// Tempo's time formats: seconds, nanoseconds, fractional seconds,
	// RFC 3339, since; query as well as q; step in seconds or as a duration.
	ok("/api/metrics/query_range?q=" + rate + "&start=1699999940&end=1700000000&step=15s")
	ok("/api/metrics/query_range?query=" + rate + "&start=1699999940000000000&end=1700000000000000000&step=15")
	ok("/api/metrics/query_range?q=" + rate + "&start=1699999940.5&end=2023-11-14T22:13:20Z")
	ok("/api/metrics/query_range?q=" + rate + "&since=5m")
	ok("/api/metrics/query?q=" + rate)

	bad("/api/metrics/query_range?q="+rate+"&start=1700000000&end=1699999940", "end must be greater than start")
	bad("/api/metrics/query_range?q="+rate+"&start=x", `could not parse 'start' parameter: strconv.ParseInt: parsing "x": invalid syntax`)
	bad("/api/metrics/query_range?q="+rate+"&since=x", `could not parse 'since' parameter: not a valid duration string: "x"`)
	bad("/api/metrics/query_range?q="+rate+"&step=x", `cannot parse "x" to a valid duration`)
	bad("/api/metrics/query_range?q="+rate+"&step=-1", `cannot parse "-1": step must be positive`)
	bad("/api/metrics/query_range?q="+rate+"&start=1699999940&end=1700000000&step=1ms", "step of 1ms is too small, minimum step for given range is 6ms")
	bad("/api/metrics/query_range?q="+rate+"&since=4h", "metrics query time range exceeds the maximum allowed duration of 3h0m0s")
	bad("/api/metrics/query_range?q="+url.QueryEscape(`{ status = error }`), "not a metrics query")
	bad("/api/metrics/query_range?q="+url.QueryEscape(`{ .a = } | rate()`), "compiling query: parse error at line 1, col 8: syntax error: unexpected }")
	bad("/api/metrics/query_range?q="+url.QueryEscape(`{} | rate() | count()`), `unsupported TraceQL: "| count() after a metrics function"`)

	// The default step: 240 points at whole granularities.
	for r, want := range map[time.Duration]time.Duration{
		time.Hour: 15 * time.Second, 24 * time.Hour: 5 * time.Minute, 30 * time.Second: 100 * time.Millisecond,
		time.Second: 50 * time.Millisecond, 3 * time.Minute: time.Second,
	} {
		require.Equal(t, want, defaultStep(r), "%s", r)
	}
}
