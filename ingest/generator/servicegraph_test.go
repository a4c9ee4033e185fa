package generator

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/sightline-dev/sightline/storage/tenant"
)

func TestServiceGraphPairsAcrossConsumeCalls(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	client := func(trace byte, status ptrace.StatusCode) spanSpec {
		return spanSpec{service: "frontend", name: "POST /checkout", kind: ptrace.SpanKindClient, status: status,
			trace: trace, span: 1, parent: 9, start: clk.at(-time.Second), duration: 120 * time.Millisecond}
	}
	server := func(trace byte, status ptrace.StatusCode) spanSpec {
		return spanSpec{service: "checkout", name: "POST /checkout", kind: ptrace.SpanKindServer, status: status,
			trace: trace, span: 2, parent: 1, start: clk.at(-time.Second + 10*time.Millisecond), duration: 90 * time.Millisecond}
	}
	edge := []string{"client", "frontend", "server", "checkout"}
	tm := g.tenant(tenant.Default).m

	// Client first, server in a later request.
	g.Consume(ctx, traces(t, client(1, ptrace.StatusCodeUnset)))
	clk.advance(3 * time.Second)
	g.Consume(ctx, traces(t, server(1, ptrace.StatusCodeUnset)))
	require.NoError(t, g.Flush(ctx))

	require.Equal(t, []string{
		`{__name__="traces_service_graph_request_total", client="frontend", server="checkout"}`,
	}, labelSets(t, db, metricRequestTotal))
	require.Equal(t, 1.0, value(t, db, metricRequestTotal, edge...))
	require.Empty(t, labelSets(t, db, metricRequestFailedTotal), "no failure, no failed series, as in Tempo")
	require.Equal(t, 1.0, value(t, db, "traces_service_graph_request_server_seconds_bucket", append(edge, "le", "0.1")...))
	require.Equal(t, 0.0, value(t, db, "traces_service_graph_request_client_seconds_bucket", append(edge, "le", "0.1")...))
	require.Equal(t, 1.0, value(t, db, "traces_service_graph_request_client_seconds_bucket", append(edge, "le", "0.2")...))
	require.Equal(t, 1.0, value(t, db, "traces_service_graph_request_client_seconds_bucket", append(edge, "le", "+Inf")...))
	require.InDelta(t, 0.09, value(t, db, "traces_service_graph_request_server_seconds_sum", edge...), 1e-9)
	require.Equal(t, 1.0, value(t, db, "traces_service_graph_request_server_seconds_count", edge...))
	require.Len(t, labelSets(t, db, "traces_service_graph_request_server_seconds_bucket"), 9, "0.1s…12.8s and +Inf")

	ex := exemplars(t, db, "traces_service_graph_request_server_seconds_bucket", append(edge, "le", "0.1")...)
	require.Len(t, ex, 1)
	require.Equal(t, labels.FromStrings("span_id", "cd00000000000002", "trace_id", "ab000000000000000000000000000001"), ex[0].Labels)

	// Server first this time, and failed: either side's error fails the edge.
	clk.advance(15 * time.Second)
	g.Consume(ctx, traces(t, server(2, ptrace.StatusCodeError)))
	g.Consume(ctx, traces(t, client(2, ptrace.StatusCodeUnset)))
	g.Consume(ctx, traces(t, client(3, ptrace.StatusCodeError), server(3, ptrace.StatusCodeOk)))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 3.0, value(t, db, metricRequestTotal, edge...))
	require.Equal(t, 2.0, value(t, db, metricRequestFailedTotal, edge...))
	require.Equal(t, 0.0, testutil.ToFloat64(tm.unpairedEdges))
	require.Equal(t, 0.0, testutil.ToFloat64(tm.edgesExpired))

	// The failed series starts with a 0 too, so increase() sees its first failure.
	for _, pts := range seriesPoints(t, db, matchers(metricRequestFailedTotal)...) {
		require.Len(t, pts, 2)
		require.Equal(t, 0.0, pts[0].v)
	}
}

func TestServiceGraphConnectionTypes(t *testing.T) {
	f := func(name string, specs []spanSpec, want string) {
		t.Run(name, func(t *testing.T) {
			db := openDB(t, true)
			g, clk := newGenerator(t, dbAppendable{db}, nil)
			for i := range specs {
				specs[i].start = clk.at(-time.Second)
				specs[i].duration = 10 * time.Millisecond
				g.Consume(ctx, traces(t, specs[i]))
			}
			require.NoError(t, g.Flush(ctx))
			require.Equal(t, []string{want}, labelSets(t, db, metricRequestTotal))
			require.Equal(t, 0.0, testutil.ToFloat64(g.tenant(tenant.Default).m.unpairedEdges))
		})
	}
	f("messaging", []spanSpec{
		{service: "orders", name: "publish", kind: ptrace.SpanKindProducer, trace: 1, span: 1},
		{service: "billing", name: "process", kind: ptrace.SpanKindConsumer, trace: 1, span: 2, parent: 1},
	}, `{__name__="traces_service_graph_request_total", client="orders", connection_type="messaging_system", server="billing"}`)
	f("database by server.address", []spanSpec{
		{service: "orders", name: "SELECT", kind: ptrace.SpanKindClient, trace: 1, span: 1,
			attrs: map[string]any{"db.system": "postgresql", "server.address": "pg.internal"}},
	}, `{__name__="traces_service_graph_request_total", client="orders", connection_type="database", server="pg.internal"}`)
	f("database by network peer", []spanSpec{
		{service: "orders", name: "GET", kind: ptrace.SpanKindClient, trace: 1, span: 1,
			attrs: map[string]any{"db.system": "redis", "network.peer.address": "10.0.0.7", "network.peer.port": 6379}},
	}, `{__name__="traces_service_graph_request_total", client="orders", connection_type="database", server="10.0.0.7:6379"}`)
	f("database by name", []spanSpec{
		{service: "orders", name: "SELECT", kind: ptrace.SpanKindClient, trace: 1, span: 1,
			attrs: map[string]any{"db.name": "orders_db"}},
	}, `{__name__="traces_service_graph_request_total", client="orders", connection_type="database", server="orders_db"}`)
}

func TestServiceGraphExpiry(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	tm := g.tenant(tenant.Default).m
	span := func(s spanSpec) spanSpec {
		s.trace, s.start, s.duration = 1, clk.at(-time.Second), 10*time.Millisecond
		return s
	}

	g.Consume(ctx, traces(t,
		// Never answered, names no peer: expires.
		span(spanSpec{service: "frontend", name: "GET", kind: ptrace.SpanKindClient, span: 1}),
		// Calls an uninstrumented API: a virtual server.
		span(spanSpec{service: "frontend", name: "charge", kind: ptrace.SpanKindClient, span: 2,
			attrs: map[string]any{"peer.service": "payments-api"}}),
		// A root server span: called by a virtual "user".
		span(spanSpec{service: "checkout", name: "GET /", kind: ptrace.SpanKindServer, span: 3}),
		// A server span whose client never comes: expires.
		span(spanSpec{service: "checkout", name: "GET /x", kind: ptrace.SpanKindServer, span: 4, parent: 7}),
	))
	clk.advance(9 * time.Second)
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 4.0, testutil.ToFloat64(tm.unpairedEdges))
	require.Empty(t, labelSets(t, db, metricRequestTotal))

	clk.advance(time.Second)
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 0.0, testutil.ToFloat64(tm.unpairedEdges))
	require.Equal(t, 2.0, testutil.ToFloat64(tm.edgesExpired))
	require.Equal(t, []string{
		`{__name__="traces_service_graph_request_total", client="frontend", connection_type="virtual_node", server="payments-api"}`,
		`{__name__="traces_service_graph_request_total", client="user", connection_type="virtual_node", server="checkout"}`,
	}, labelSets(t, db, metricRequestTotal))

	// The other side arriving after expiry starts a new wait; it does not pair.
	g.Consume(ctx, traces(t, span(spanSpec{service: "backend", name: "GET", kind: ptrace.SpanKindServer, span: 5, parent: 1})))
	require.Equal(t, 1, len(g.tenant(tenant.Default).graph.edges))
}

func TestServiceGraphMaxItems(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, func(o *Options) { o.ServiceGraphMaxItems = 2 })
	tm := g.tenant(tenant.Default).m
	client := func(span byte) spanSpec {
		return spanSpec{service: "frontend", name: "GET", kind: ptrace.SpanKindClient, trace: 1, span: span,
			start: clk.at(-time.Second), duration: time.Millisecond}
	}
	g.Consume(ctx, traces(t, client(1), client(2), client(3)))
	require.Equal(t, 1.0, testutil.ToFloat64(tm.edgesDropped))

	// A full store makes room from expired edges before it drops.
	clk.advance(10 * time.Second)
	g.Consume(ctx, traces(t, client(4)))
	require.Equal(t, 1.0, testutil.ToFloat64(tm.edgesDropped))
	require.Equal(t, 2.0, testutil.ToFloat64(tm.edgesExpired))
	require.Equal(t, 1, len(g.tenant(tenant.Default).graph.edges))

	// A span completing a waiting edge needs no room.
	g.Consume(ctx, traces(t, client(5)))
	g.Consume(ctx, traces(t, spanSpec{service: "backend", name: "GET", kind: ptrace.SpanKindServer, trace: 1, span: 9, parent: 4,
		start: clk.at(-time.Second), duration: time.Millisecond}))
	require.Equal(t, 1.0, testutil.ToFloat64(tm.edgesDropped))
	require.NoError(t, g.Flush(ctx))
	require.Equal(t, 1.0, value(t, db, metricRequestTotal, "client", "frontend", "server", "backend"))
}

func TestServiceGraphIgnoresSpansWithoutService(t *testing.T) {
	db := openDB(t, true)
	g, clk := newGenerator(t, dbAppendable{db}, nil)
	g.Consume(ctx, traces(t, spanSpec{name: "GET", kind: ptrace.SpanKindClient, trace: 1, span: 1, start: clk.at(0)}))
	require.Empty(t, g.tenant(tenant.Default).graph.edges)
}

func TestServiceGraphMaxSeries(t *testing.T) {
	db := openDB(t, true)
	// Room for the span metrics of two spans and nothing else.
	g, clk := newGenerator(t, dbAppendable{db}, func(o *Options) { o.MaxSeries = 2 * 19 })
	g.Consume(ctx, traces(t,
		spanSpec{service: "a", name: "call", kind: ptrace.SpanKindClient, trace: 1, span: 1, start: clk.at(0)},
		spanSpec{service: "b", name: "serve", kind: ptrace.SpanKindServer, trace: 1, span: 2, parent: 1, start: clk.at(0)},
	))
	require.NoError(t, g.Flush(ctx))
	tm := g.tenant(tenant.Default).m
	require.Equal(t, 1.0, testutil.ToFloat64(tm.seriesDropped))
	require.Empty(t, labelSets(t, db, metricRequestTotal))
	require.Len(t, labelSets(t, db, metricCallsTotal), 2)
}
