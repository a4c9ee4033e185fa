package workload

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// flatSpan is a decoded span with its resource's service name.
type flatSpan struct {
	service string
	span    ptrace.Span
}

// byTrace decodes a request into its traces.
func byTrace(td ptrace.Traces) map[pcommon.TraceID][]flatSpan {
	out := map[pcommon.TraceID][]flatSpan{}
	for i := 0; i < td.ResourceSpans().Len(); i++ {
		rs := td.ResourceSpans().At(i)
		svc, _ := rs.Resource().Attributes().Get("service.name")
		for j := 0; j < rs.ScopeSpans().Len(); j++ {
			spans := rs.ScopeSpans().At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				out[sp.TraceID()] = append(out[sp.TraceID()], flatSpan{svc.Str(), sp})
			}
		}
	}
	return out
}

func str(sp ptrace.Span, key string) string {
	v, ok := sp.Attributes().Get(key)
	if !ok {
		return ""
	}
	return v.AsString()
}

func TestRealisticTraces(t *testing.T) {
	opts := DefaultTraceOptions()
	opts.SampledTraces = 50
	g := NewTraceGenerator(opts, 1)
	now := time.Now()
	var spans, errSpans, traces int
	sizes := map[int]int{}
	edges := map[[2]string]int{}
	services := map[string]bool{}
	kinds := map[ptrace.SpanKind]int{}
	attrs := map[string]int{}
	seen := map[pcommon.TraceID]int{}
	for req := 0; req < 100; req++ {
		td := g.Request(now)
		n := td.SpanCount()
		require.LessOrEqual(t, n, opts.SpansPerRequest)
		require.Greater(t, n, opts.SpansPerRequest-MaxTraceSpans)
		spans += n
		for id, tr := range byTrace(td) {
			traces++
			_, dup := seen[id]
			require.False(t, dup, "a trace is sent in one request")
			seen[id] = len(tr)
			sizes[len(tr)]++
			byID := map[pcommon.SpanID]flatSpan{}
			for _, s := range tr {
				byID[s.span.SpanID()] = s
			}
			require.Len(t, byID, len(tr), "span IDs are unique")
			children := map[pcommon.SpanID][]flatSpan{}
			roots := 0
			for _, s := range tr {
				sp := s.span
				services[s.service] = true
				kinds[sp.Kind()]++
				sp.Attributes().Range(func(k string, _ pcommon.Value) bool { attrs[k]++; return true })
				if sp.Status().Code() == ptrace.StatusCodeError {
					errSpans++
				}
				require.Less(t, sp.StartTimestamp(), sp.EndTimestamp())
				if sp.ParentSpanID().IsEmpty() {
					roots++
					require.Equal(t, ptrace.SpanKindServer, sp.Kind(), "the root is a SERVER span")
					continue
				}
				p, ok := byID[sp.ParentSpanID()]
				require.True(t, ok, "the parent is in the trace")
				children[p.span.SpanID()] = append(children[p.span.SpanID()], s)
				require.GreaterOrEqual(t, sp.StartTimestamp(), p.span.StartTimestamp(), "a child starts in its parent")
				require.LessOrEqual(t, sp.EndTimestamp(), p.span.EndTimestamp(), "a child ends in its parent")
				if sp.Kind() == ptrace.SpanKindServer {
					require.Equal(t, ptrace.SpanKindClient, p.span.Kind(), "a non-root SERVER span is called by a CLIENT span")
					require.NotEqual(t, p.service, s.service, "across services")
					edges[[2]string{p.service, s.service}]++
				} else {
					require.Equal(t, p.service, s.service, "a CLIENT or INTERNAL span is in its parent's service")
				}
			}
			require.Equal(t, 1, roots)
			for _, s := range tr {
				sp := s.span
				if sp.Kind() != ptrace.SpanKindClient {
					continue
				}
				if peer := str(sp, "peer.service"); peer != "" {
					kids := children[sp.SpanID()]
					require.Len(t, kids, 1, "an HTTP CLIENT span has its callee's SERVER span")
					require.Equal(t, ptrace.SpanKindServer, kids[0].span.Kind())
					require.Equal(t, peer, kids[0].service)
					require.Equal(t, str(sp, "http.request.method"), str(kids[0].span, "http.request.method"))
					require.Equal(t, str(sp, "http.response.status_code"), str(kids[0].span, "http.response.status_code"))
				} else {
					require.NotEmpty(t, str(sp, "db.system"), "other CLIENT spans are queries")
					require.Empty(t, children[sp.SpanID()])
				}
			}
		}
	}
	st := g.Stats()
	require.EqualValues(t, spans, st.Spans)
	require.EqualValues(t, traces, st.Traces)
	require.EqualValues(t, errSpans, st.ErrorSpans)
	for n := minTraceSpans; n <= MaxTraceSpans; n++ {
		require.Positive(t, sizes[n], "traces of %d spans", n)
	}
	require.Len(t, sizes, MaxTraceSpans-minTraceSpans+1)
	share := float64(errSpans) / float64(spans)
	t.Logf("%d traces, %d spans, %.2f%% errors, %d service-graph edges, kinds %v", traces, spans, 100*share, len(edges), kinds)
	require.InDelta(t, 0.035, share, 0.015, "2–5%% of the spans fail")
	require.GreaterOrEqual(t, len(services), 10)
	require.GreaterOrEqual(t, len(edges), 15)
	for _, k := range []ptrace.SpanKind{ptrace.SpanKindServer, ptrace.SpanKindClient, ptrace.SpanKindInternal} {
		require.Positive(t, kinds[k], k.String())
	}
	for _, k := range []string{"http.request.method", "http.route", "http.response.status_code", "db.system", "net.peer.name", "peer.service", "url.full"} {
		require.Positive(t, attrs[k], k)
	}

	require.Len(t, g.Sampled(), opts.SampledTraces)
	for _, s := range g.Sampled() {
		require.Equal(t, seen[pcommon.TraceID(s.ID)], s.Spans, "sampled traces were sent, with their span count")
	}
}

func TestTraceGeneratorIsDeterministic(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	encode := func(shape TraceShape, seed uint64) []byte {
		o := DefaultTraceOptions()
		o.Shape = shape
		g := NewTraceGenerator(o, seed)
		var all []byte
		for i := 0; i < 5; i++ {
			b, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(g.Request(now))
			require.NoError(t, err)
			all = append(all, b...)
		}
		return all
	}
	for _, shape := range []TraceShape{TraceShapeRealistic, TraceShapeTelemetrygen} {
		require.Equal(t, encode(shape, 7), encode(shape, 7), shape)
		require.NotEqual(t, encode(shape, 7), encode(shape, 8), shape)
	}
}

func TestTelemetrygenTraces(t *testing.T) {
	o := DefaultTraceOptions()
	o.Shape = TraceShapeTelemetrygen
	o.SpansPerRequest = 1001
	g := NewTraceGenerator(o, 3)
	now := time.Now()
	td := g.Request(now)
	require.Equal(t, 1000, td.SpanCount(), "whole traces of two spans")
	require.Equal(t, 1, td.ResourceSpans().Len())
	rs := td.ResourceSpans().At(0)
	require.Equal(t, map[string]any{"service.name": "telemetrygen"}, rs.Resource().Attributes().AsRaw())
	require.Equal(t, "telemetrygen", rs.ScopeSpans().At(0).Scope().Name())
	traces := byTrace(td)
	require.Len(t, traces, 500)
	for _, tr := range traces {
		require.Len(t, tr, 2)
		child, parent := tr[0].span, tr[1].span // the child ends first and is exported first
		require.Equal(t, "lets-go", parent.Name())
		require.Equal(t, ptrace.SpanKindClient, parent.Kind())
		require.True(t, parent.ParentSpanID().IsEmpty())
		require.Equal(t, map[string]any{"net.sock.peer.addr": "1.2.3.4", "peer.service": "telemetrygen-server"}, parent.Attributes().AsRaw())
		require.Equal(t, "okey-dokey-0", child.Name())
		require.Equal(t, ptrace.SpanKindServer, child.Kind())
		require.Equal(t, parent.SpanID(), child.ParentSpanID())
		require.Equal(t, map[string]any{"net.sock.peer.addr": "1.2.3.4", "peer.service": "telemetrygen-client"}, child.Attributes().AsRaw())
		require.Equal(t, ptrace.StatusCodeUnset, child.Status().Code())
		require.Equal(t, 123*time.Microsecond, child.EndTimestamp().AsTime().Sub(child.StartTimestamp().AsTime()))
		require.Equal(t, parent.EndTimestamp(), child.EndTimestamp())
	}
	require.EqualValues(t, 1000, g.Stats().Spans)
	require.Equal(t, "telemetrygen", g.Sampled()[0].RootService)
	require.Equal(t, 2, g.Sampled()[0].Spans)
}

// BenchmarkTraceRequest is the sender's cost per request, which shares the
// CPUs with the server during the benchmark.
func BenchmarkTraceRequest(b *testing.B) {
	for _, shape := range []TraceShape{TraceShapeRealistic, TraceShapeTelemetrygen} {
		b.Run(string(shape), func(b *testing.B) {
			o := DefaultTraceOptions()
			o.Shape = shape
			g := NewTraceGenerator(o, 1)
			now := time.Now()
			b.ReportAllocs()
			for b.Loop() {
				_ = g.Request(now)
			}
			b.ReportMetric(float64(g.Stats().Spans)/b.Elapsed().Seconds(), "spans/s")
		})
	}
}

func TestRequestMaxKeepsTracesWhole(t *testing.T) {
	g := NewTraceGenerator(DefaultTraceOptions(), 5)
	now := time.Now()
	sent := 0
	for {
		td := g.RequestMax(now, 2345-sent)
		if td.SpanCount() == 0 {
			break
		}
		sent += td.SpanCount()
		for _, tr := range byTrace(td) {
			roots := 0
			for _, s := range tr {
				if s.span.ParentSpanID().IsEmpty() {
					roots++
				}
			}
			require.Equal(t, 1, roots)
		}
	}
	require.LessOrEqual(t, sent, 2345)
	require.Greater(t, sent, 2345-MaxTraceSpans)
	require.EqualValues(t, sent, g.Stats().Spans)
}
