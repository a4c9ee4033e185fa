package generator

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// benchBatch is a request of 1000 spans: 250 traces of a server span calling,
// through a client span, a server span of another service, plus an internal
// span; 10 services, 40 span names, a few errors, typical attributes.
func benchBatch(b *testing.B, seq int) ptrace.Traces {
	td := ptrace.NewTraces()
	start := pcommon.NewTimestampFromTime(time.Now())
	for tr := 0; tr < 250; tr++ {
		var tid pcommon.TraceID
		tid[0], tid[1], tid[2], tid[3] = byte(seq), byte(seq>>8), byte(tr), byte(tr>>8)
		caller := fmt.Sprintf("service-%d", tr%10)
		callee := fmt.Sprintf("service-%d", (tr+1)%10)
		sid := func(n byte) pcommon.SpanID { return pcommon.SpanID{1, byte(tr), byte(tr >> 8), n} }
		add := func(svc, name string, kind ptrace.SpanKind, id, parent pcommon.SpanID, d time.Duration) {
			rs := td.ResourceSpans().AppendEmpty()
			ra := rs.Resource().Attributes()
			ra.PutStr("service.name", svc)
			ra.PutStr("service.namespace", "shop")
			ra.PutStr("host.name", "node-1")
			ra.PutStr("telemetry.sdk.language", "go")
			s := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
			s.SetTraceID(tid)
			s.SetSpanID(id)
			s.SetParentSpanID(parent)
			s.SetName(name)
			s.SetKind(kind)
			s.SetStartTimestamp(start)
			s.SetEndTimestamp(start + pcommon.Timestamp(d))
			if tr%50 == 0 {
				s.Status().SetCode(ptrace.StatusCodeError)
			}
			a := s.Attributes()
			a.PutStr("http.request.method", "GET")
			a.PutStr("url.path", name)
			a.PutInt("http.response.status_code", 200)
			a.PutStr("server.address", callee)
		}
		op := fmt.Sprintf("GET /api/%d", tr%4)
		add(caller, op, ptrace.SpanKindServer, sid(1), pcommon.SpanID{}, 30*time.Millisecond)
		add(caller, "render", ptrace.SpanKindInternal, sid(2), sid(1), 2*time.Millisecond)
		add(caller, op, ptrace.SpanKindClient, sid(3), sid(1), 20*time.Millisecond)
		add(callee, op, ptrace.SpanKindServer, sid(4), sid(3), 15*time.Millisecond)
	}
	require.Equal(b, 1000, td.SpanCount())
	return td
}

// BenchmarkConsume measures the ingest path; ns/span is the figure to keep
// well under 10µs (100k spans/s on one core).
func BenchmarkConsume(b *testing.B) {
	g, err := New(dbAppendable{}, DefaultOptions(), nil, nil)
	require.NoError(b, err)
	// Distinct trace IDs per batch, cycled: each trace's edges complete
	// within its batch, so the store does not fill up.
	batches := make([]ptrace.Traces, 16)
	for i := range batches {
		batches[i] = benchBatch(b, i)
	}
	var m ptrace.ProtoMarshaler
	b.SetBytes(int64(m.TracesSize(batches[0])))
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		g.Consume(ctx, batches[n%len(batches)])
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*1000), "ns/span")
}
