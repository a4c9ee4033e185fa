package tracesexporter

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sightline-dev/sightline/internal/storetest"
	"github.com/sightline-dev/sightline/storage/record"
	"github.com/sightline-dev/sightline/storage/tenant"
	"github.com/sightline-dev/sightline/storage/tracestore"
)

// derived records what the exporter hands to the span-metrics generator.
type derived struct {
	mu    sync.Mutex
	calls []string // tenant:span count
}

func (d *derived) Consume(ctx context.Context, td ptrace.Traces) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, tenant.FromContext(ctx)+":"+strings.Repeat("s", td.SpanCount()))
}

func (d *derived) seen() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// newTestExporter starts a sightline_traces exporter, built by its factory
// as the collector builds it, over a fresh trace store.
func newTestExporter(t *testing.T, mod func(*tracestore.Options)) (exporter.Traces, *tracestore.Store, *derived, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	store := storetest.Traces(t, reg, mod)
	d := &derived{}
	f := NewFactory(store, d, slog.New(slog.DiscardHandler))
	exp, err := f.CreateTraces(context.Background(), exportertest.NewNopSettings(Type), f.CreateDefaultConfig())
	require.NoError(t, err)
	require.NoError(t, exp.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, exp.Shutdown(context.Background())) })
	return exp, store, d, reg
}

func trace(t *testing.T, store *tracestore.Store, tenantID string, id [16]byte) []*record.Span {
	t.Helper()
	spans, err := store.Trace(tenant.With(context.Background(), tenantID), id)
	require.NoError(t, err)
	return spans
}

var (
	base    = time.Now().Add(-time.Minute).Truncate(time.Millisecond)
	traceID = pcommon.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	rootID  = pcommon.SpanID{1, 1, 1, 1, 1, 1, 1, 1}
	childID = pcommon.SpanID{2, 2, 2, 2, 2, 2, 2, 2}
	payID   = pcommon.SpanID{3, 3, 3, 3, 3, 3, 3, 3}
	otherID = pcommon.TraceID{9}
)

func ts(d time.Duration) pcommon.Timestamp { return pcommon.NewTimestampFromTime(base.Add(d)) }

func str(k, v string) record.KV { return record.KV{Key: k, Value: v, Type: record.TypeString} }

// checkout is a request of two resources: frontend's root span and its
// client child (with an event and a link), and payment's failed server
// span under the child.
func checkout() ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", "frontend")
	rs.Resource().Attributes().PutInt("process.pid", 42)
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("shop")
	ss.Scope().SetVersion("1.2.3")
	ss.Scope().Attributes().PutBool("scope.flag", true)

	root := ss.Spans().AppendEmpty()
	root.SetTraceID(traceID)
	root.SetSpanID(rootID)
	root.TraceState().FromRaw("vendor=a")
	root.SetFlags(1)
	root.SetName("GET /checkout")
	root.SetKind(ptrace.SpanKindServer)
	root.SetStartTimestamp(ts(0))
	root.SetEndTimestamp(ts(50 * time.Millisecond))
	root.Attributes().PutStr("http.request.method", "GET")
	root.Attributes().PutInt("http.response.status_code", 500)
	root.SetDroppedAttributesCount(1)

	child := ss.Spans().AppendEmpty()
	child.SetTraceID(traceID)
	child.SetSpanID(childID)
	child.SetParentSpanID(rootID)
	child.SetName("POST /pay")
	child.SetKind(ptrace.SpanKindClient)
	child.SetStartTimestamp(ts(time.Millisecond))
	child.SetEndTimestamp(ts(40 * time.Millisecond))
	ev := child.Events().AppendEmpty()
	ev.SetTimestamp(ts(2 * time.Millisecond))
	ev.SetName("sent")
	ev.Attributes().PutDouble("size", 1.5)
	ev.SetDroppedAttributesCount(2)
	child.SetDroppedEventsCount(3)
	l := child.Links().AppendEmpty()
	l.SetTraceID(otherID)
	l.SetSpanID(payID)
	l.TraceState().FromRaw("x=y")
	l.SetFlags(1)
	l.Attributes().PutStr("link.kind", "follows")
	l.SetDroppedAttributesCount(4)
	child.SetDroppedLinksCount(5)

	rs2 := td.ResourceSpans().AppendEmpty()
	rs2.Resource().Attributes().PutStr("service.name", "payment")
	pay := rs2.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
	pay.SetTraceID(traceID)
	pay.SetSpanID(payID)
	pay.SetParentSpanID(childID)
	pay.SetName("charge")
	pay.SetKind(ptrace.SpanKindServer)
	pay.SetStartTimestamp(ts(2 * time.Millisecond))
	pay.SetEndTimestamp(ts(30 * time.Millisecond))
	pay.Status().SetCode(ptrace.StatusCodeError)
	pay.Status().SetMessage("card declined")
	return td
}

func TestConsumeTraces(t *testing.T) {
	exp, store, d, _ := newTestExporter(t, nil)
	require.NoError(t, exp.ConsumeTraces(context.Background(), checkout()))

	frontend := []record.KV{str("service.name", "frontend"), {Key: "process.pid", Value: "42", Type: record.TypeInt}}
	scopeAttrs := []record.KV{{Key: "scope.flag", Value: "true", Type: record.TypeBool}}
	require.Equal(t, []*record.Span{{
		TraceID: traceID, SpanID: rootID, TraceState: "vendor=a", Flags: 1,
		Name: "GET /checkout", Kind: record.KindServer,
		Start: base.UnixNano(), End: base.Add(50 * time.Millisecond).UnixNano(),
		Attributes:             []record.KV{str("http.request.method", "GET"), {Key: "http.response.status_code", Value: "500", Type: record.TypeInt}},
		DroppedAttributesCount: 1,
		Resource:               frontend, ScopeName: "shop", ScopeVersion: "1.2.3", ScopeAttributes: scopeAttrs,
	}, {
		TraceID: traceID, SpanID: childID, ParentSpanID: rootID,
		Name: "POST /pay", Kind: record.KindClient,
		Start: base.Add(time.Millisecond).UnixNano(), End: base.Add(40 * time.Millisecond).UnixNano(),
		Events: []record.Event{{Time: base.Add(2 * time.Millisecond).UnixNano(), Name: "sent",
			Attributes: []record.KV{{Key: "size", Value: "1.5", Type: record.TypeDouble}}, DroppedAttributesCount: 2}},
		DroppedEventsCount: 3,
		Links: []record.Link{{TraceID: otherID, SpanID: payID, TraceState: "x=y", Flags: 1,
			Attributes: []record.KV{str("link.kind", "follows")}, DroppedAttributesCount: 4}},
		DroppedLinksCount: 5,
		Resource:          frontend, ScopeName: "shop", ScopeVersion: "1.2.3", ScopeAttributes: scopeAttrs,
	}, {
		TraceID: traceID, SpanID: payID, ParentSpanID: childID,
		Name: "charge", Kind: record.KindServer,
		Start: base.Add(2 * time.Millisecond).UnixNano(), End: base.Add(30 * time.Millisecond).UnixNano(),
		StatusCode: record.StatusError, StatusMessage: "card declined",
		Resource: []record.KV{str("service.name", "payment")},
	}}, trace(t, store, tenant.Default, traceID))
	require.Equal(t, []string{"default:sss"}, d.seen(), "the stored request goes on to the generator")
}

func TestConsumeTracesTenant(t *testing.T) {
	exp, store, d, _ := newTestExporter(t, nil)
	require.NoError(t, exp.ConsumeTraces(storetest.CollectorContext("team-a"), checkout()))
	require.Len(t, trace(t, store, "team-a", traceID), 3)
	require.Empty(t, trace(t, store, tenant.Default, traceID), "another tenant's trace is not the default tenant's")
	require.Equal(t, []string{"team-a:sss"}, d.seen(), "the generator writes span metrics for the request's tenant")

	err := exp.ConsumeTraces(storetest.CollectorContext("a/b"), checkout())
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.ErrorContains(t, err, "invalid tenant ID")
	require.Empty(t, trace(t, store, tenant.Default, traceID))
	require.Len(t, d.seen(), 1)
}

// TestConsumeTracesRejects: spans with an all-zero trace or span ID, or
// over the size limit, are refused and counted by reason; the rest of the
// request is stored and the answer is InvalidArgument (HTTP 400) with the
// partial-success message.
func TestConsumeTracesRejects(t *testing.T) {
	exp, store, d, reg := newTestExporter(t, func(o *tracestore.Options) { o.MaxSpanBytes = 1 << 10 })
	td := checkout()
	spans := td.ResourceSpans().At(1).ScopeSpans().At(0).Spans()
	noTrace := spans.AppendEmpty()
	noTrace.SetSpanID(payID)
	noTrace.SetName("no trace ID")
	noSpan := spans.AppendEmpty()
	noSpan.SetTraceID(traceID)
	noSpan.SetName("no span ID")
	big := spans.AppendEmpty()
	big.SetTraceID(traceID)
	big.SetSpanID(pcommon.SpanID{4})
	big.SetName("large")
	big.Attributes().PutStr("sql", strings.Repeat("x", 2<<10))

	err := exp.ConsumeTraces(context.Background(), td)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.ErrorContains(t, err, "partial success: 3 spans rejected (invalid_span_id: 1, invalid_trace_id: 1, too_large: 1)")
	got := trace(t, store, tenant.Default, traceID)
	require.Len(t, got, 3, "the good spans are stored")
	for _, sp := range got {
		require.Contains(t, []string{"GET /checkout", "POST /pay", "charge"}, sp.Name)
	}
	for _, reason := range []string{tracestore.ReasonInvalidTraceID, tracestore.ReasonInvalidSpanID, tracestore.ReasonTooLarge} {
		require.Equal(t, 1.0, storetest.Counter(t, reg, "sightline_traces_spans_rejected_total", "reason", reason), reason)
	}
	require.Equal(t, 3.0, storetest.Counter(t, reg, "sightline_traces_spans_appended_total"))
	require.Len(t, d.seen(), 1, "a request with stored spans goes on to the generator")

	// A request of bad spans only stores nothing and generates nothing.
	td = ptrace.NewTraces()
	td.ResourceSpans().AppendEmpty().ScopeSpans().AppendEmpty().Spans().AppendEmpty().SetName("no IDs")
	err = exp.ConsumeTraces(context.Background(), td)
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	require.ErrorContains(t, err, "1 spans rejected (invalid_trace_id: 1)")
	require.Len(t, d.seen(), 1)
}

// TestConsumeTracesBackpressure: while the store is behind with flushing,
// a request is refused whole with ResourceExhausted, which the OTLP
// receiver answers with 429 (HTTP) or ResourceExhausted (gRPC) for the
// sender to retry; the generator does not count the refused spans.
func TestConsumeTracesBackpressure(t *testing.T) {
	exp, store, d, reg := newTestExporter(t, func(o *tracestore.Options) {
		o.HeadMaxRows, o.HeadMaxAge = 1<<20, time.Hour
		o.MaxPendingRows = 4
	})
	require.NoError(t, exp.ConsumeTraces(context.Background(), checkout()))
	err := exp.ConsumeTraces(context.Background(), checkout())
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
	require.Equal(t, 3.0, storetest.Counter(t, reg, "sightline_traces_spans_rejected_total", "reason", tracestore.ReasonBackpressure))
	require.Equal(t, []string{"default:sss"}, d.seen(), "refused spans are not generated from")

	require.NoError(t, store.Flush())
	require.NoError(t, exp.ConsumeTraces(context.Background(), checkout()), "the retry is stored once the store has caught up")
	require.Len(t, d.seen(), 2)
	require.Len(t, trace(t, store, tenant.Default, traceID), 3, "a span stored twice (the sender's retry) is read once")
}
