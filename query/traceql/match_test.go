package traceql

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The spans of testTrace, by index: a checkout request through frontend,
// checkout and payment, where the card is declined, plus an order event
// consumed by fulfillment after the root ends.
const (
	frontendServer     = iota // GET /checkout, root
	frontendClient            // POST /api/checkout, child of frontendServer
	checkoutServer            // POST /api/checkout, child of frontendClient
	checkoutClient            // payment.Charge, child of checkoutServer
	paymentServer             // payment.Charge, child of checkoutClient, error
	paymentDB                 // SELECT payments, child of paymentServer
	checkoutRender            // render receipt, child of checkoutServer, status ok
	checkoutPublish           // orders publish, child of checkoutServer
	fulfillmentConsume        // orders process, child of checkoutPublish
	numTestSpans
)

var t0 = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func spanID(i int) [8]byte { return [8]byte{0xa, 0, 0, 0, 0, 0, 0, byte(i + 1)} }

func testTrace() []Span {
	frontend := map[string]Value{
		"service.name": StringValue("frontend"), "deployment.environment": StringValue("prod"), "host.cores": IntValue(8),
	}
	checkout := map[string]Value{
		"service.name": StringValue("checkout"), "service.version": StringValue("1.4.2"), "deployment.environment": StringValue("prod"),
	}
	payment := map[string]Value{
		"service.name": StringValue("payment"), "deployment.environment": StringValue("prod"), "cloud.region": StringValue("eu-west-1"),
	}
	fulfillment := map[string]Value{"service.name": StringValue("fulfillment")}
	span := func(i, parent int, name, kind, status string, start, dur time.Duration, res map[string]Value, attrs map[string]Value) Span {
		s := Span{
			SpanID: spanID(i), Name: name, Kind: kind, StatusCode: status,
			Start: t0.Add(start), Duration: dur, Attributes: attrs, Resource: res,
		}
		if parent >= 0 {
			s.ParentSpanID = spanID(parent)
		}
		return s
	}
	ms := time.Millisecond
	tr := []Span{
		span(frontendServer, -1, "GET /checkout", "server", "unset", 0, 1200*ms, frontend, map[string]Value{
			"http.method": StringValue("GET"), "http.route": StringValue("/checkout"), "http.status_code": IntValue(500),
		}),
		span(frontendClient, frontendServer, "POST /api/checkout", "client", "error", 50*ms, 1000*ms, frontend, map[string]Value{
			"http.method": StringValue("POST"), "http.status_code": IntValue(500), "peer.service": StringValue("checkout"),
		}),
		span(checkoutServer, frontendClient, "POST /api/checkout", "server", "error", 60*ms, 950*ms, checkout, map[string]Value{
			"http.method": StringValue("POST"), "http.status_code": IntValue(500), "http.route": StringValue("/api/checkout"),
		}),
		span(checkoutClient, checkoutServer, "payment.Charge", "client", "error", 100*ms, 800*ms, checkout, map[string]Value{
			"rpc.system": StringValue("grpc"), "rpc.service": StringValue("payment.Payment"), "rpc.grpc.status_code": IntValue(2),
		}),
		span(paymentServer, checkoutClient, "payment.Charge", "server", "error", 110*ms, 780*ms, payment, map[string]Value{
			"rpc.system": StringValue("grpc"), "rpc.grpc.status_code": IntValue(2), "payment.amount": FloatValue(42.5),
			"payment.currency": StringValue("EUR"), "payment.retry": BoolValue(false),
		}),
		span(paymentDB, paymentServer, "SELECT payments", "client", "unset", 150*ms, 120*ms, payment, map[string]Value{
			"db.system": StringValue("postgresql"), "db.statement": StringValue("SELECT * FROM payments\nWHERE id = $1"),
			"db.rows": IntValue(3), "db.load": FloatValue(0.25), "db.cached": BoolValue(true), "net.peer.port": IntValue(5432),
		}),
		span(checkoutRender, checkoutServer, "render receipt", "internal", "ok", 1000*ms, 5*ms, checkout, map[string]Value{
			"my attr": StringValue("x y"), "deployment.environment": StringValue("canary"), "count": FloatValue(3),
		}),
		span(checkoutPublish, checkoutServer, "orders publish", "producer", "unset", 1005*ms, 2*ms, checkout, map[string]Value{
			"messaging.system": StringValue("kafka"),
		}),
		span(fulfillmentConsume, checkoutPublish, "orders process", "consumer", "unset", 1500*ms, 300*ms, fulfillment, nil),
	}
	tr[paymentServer].StatusMessage = "card declined"
	tr[frontendClient].StatusMessage = "HTTP 500"
	tr[checkoutServer].StatusMessage = "payment failed"
	return tr
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// matcher returns a check that q matches exactly the spans want of trace,
// and so does its canonical form.
func matcher(t *testing.T, trace []Span) func(q string, want ...int) {
	return func(q string, want ...int) {
		t.Helper()
		query, err := Parse(q)
		require.NoError(t, err, q)
		require.Equal(t, want, query.Match(trace), q)
		// The canonical form means the same.
		again, err := Parse(query.String())
		require.NoError(t, err)
		require.Equal(t, want, again.Match(trace), query.String())
	}
}

func TestMatch(t *testing.T) {
	trace := testTrace()
	f := matcher(t, trace)
	every := all(numTestSpans)

	f(`{}`, every...)
	f(`{ true }`, every...)
	f(`{ false }`)

	// Intrinsics.
	f(`{ name = "SELECT payments" }`, paymentDB)
	f(`{ name = "select payments" }`)
	f(`{ name =~ "POST.*" }`, frontendClient, checkoutServer)
	f(`{ name =~ "POST" }`) // anchored, as in Tempo
	f(`{ name !~ "payment.*" }`, frontendServer, frontendClient, checkoutServer, paymentDB, checkoutRender, checkoutPublish, fulfillmentConsume)
	f(`{ name > "q" }`, checkoutRender) // "SELECT payments" < "q": upper case sorts first
	f(`{ status = error }`, frontendClient, checkoutServer, checkoutClient, paymentServer)
	f(`{ status = ok }`, checkoutRender)
	f(`{ status = unset }`, frontendServer, paymentDB, checkoutPublish, fulfillmentConsume)
	f(`{ status != error }`, frontendServer, paymentDB, checkoutRender, checkoutPublish, fulfillmentConsume)
	f(`{ statusMessage = "card declined" }`, paymentServer)
	f(`{ statusMessage != "" }`, frontendClient, checkoutServer, paymentServer)
	f(`{ span:statusMessage =~ ".*declined" }`, paymentServer)
	f(`{ kind = server }`, frontendServer, checkoutServer, paymentServer)
	f(`{ kind = client }`, frontendClient, checkoutClient, paymentDB)
	f(`{ kind = internal }`, checkoutRender)
	f(`{ kind = producer }`, checkoutPublish)
	f(`{ kind = consumer }`, fulfillmentConsume)
	f(`{ kind = unspecified }`)
	f(`{ kind != server && kind != client }`, checkoutRender, checkoutPublish, fulfillmentConsume)

	// Durations: a duration literal, or a number of nanoseconds.
	f(`{ duration > 900ms }`, frontendServer, frontendClient, checkoutServer)
	f(`{ duration >= 1s }`, frontendServer, frontendClient)
	f(`{ duration = 1.2s }`, frontendServer)
	f(`{ duration < 10ms }`, checkoutRender, checkoutPublish)
	f(`{ duration <= 5000us }`, checkoutRender, checkoutPublish)
	f(`{ duration > 1m }`)
	f(`{ duration > 500000000 }`, frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer)
	f(`{ duration = 2000000.0 }`, checkoutPublish)
	f(`{ span:duration > 100ms && span:duration < 200ms }`, paymentDB)
	f(`{ traceDuration = 1.8s }`, every...)
	f(`{ traceDuration > 2s }`)
	f(`{ trace:duration > 1s && kind = producer }`, checkoutPublish)
	f(`{ rootName = "GET /checkout" }`, every...)
	f(`{ rootName != "GET /checkout" }`)
	f(`{ rootServiceName = "frontend" && kind = consumer }`, fulfillmentConsume)
	f(`{ trace:rootService =~ "front.*" && status = ok }`, checkoutRender)

	// Scopes.
	f(`{ resource.service.name = "payment" }`, paymentServer, paymentDB)
	f(`{ span.service.name = "payment" }`)
	f(`{ .service.name = "payment" }`, paymentServer, paymentDB)
	// An unscoped name is the span attribute when the span has one.
	f(`{ .deployment.environment = "canary" }`, checkoutRender)
	f(`{ .deployment.environment = "prod" }`, frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer, paymentDB, checkoutPublish)
	f(`{ resource.deployment.environment = "prod" }`, frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer, paymentDB, checkoutRender, checkoutPublish)
	f(`{ span.deployment.environment = "prod" }`)
	f(`{ span."my attr" = "x y" }`, checkoutRender)
	f(`{ resource.host.cores = 8 }`, frontendServer, frontendClient)

	// Types: ints, floats and durations compare as numbers.
	f(`{ span.http.status_code = 500 }`, frontendServer, frontendClient, checkoutServer)
	f(`{ span.http.status_code = 500.0 }`, frontendServer, frontendClient, checkoutServer)
	f(`{ span.http.status_code >= 499.5 }`, frontendServer, frontendClient, checkoutServer)
	f(`{ span.http.status_code != 200 }`, frontendServer, frontendClient, checkoutServer) // not on spans without it
	f(`{ span.payment.amount > 42 }`, paymentServer)
	f(`{ span.payment.amount = 42.5 }`, paymentServer)
	f(`{ span.payment.amount < 43 }`, paymentServer)
	f(`{ span.payment.amount = 42 }`)
	f(`{ span.payment.amount != 42 }`, paymentServer)
	f(`{ span.count = 3 }`, checkoutRender)
	f(`{ span.db.rows > 2 && span.db.load < 0.5 }`, paymentDB)
	f(`{ span.net.peer.port < 1ms }`, paymentDB) // 5432ns
	f(`{ span.net.peer.port > 1us }`, paymentDB)
	f(`{ span.net.peer.port = -5432 }`)
	// Types that do not compare: false whatever the operator, != included.
	f(`{ span.http.status_code = "500" }`)
	f(`{ span.http.status_code != "500" }`)
	f(`{ span.http.status_code > "400" }`)
	f(`{ span.http.method = 1 }`)
	f(`{ span.http.method != 1 }`)
	f(`{ span.db.cached = "true" }`)
	f(`{ span.db.cached = 1 }`)
	f(`{ span.db.rows = true }`)
	f(`{ span.http.status_code = error }`)
	f(`{ span.http.method != error }`)
	// Booleans.
	f(`{ span.db.cached = true }`, paymentDB)
	f(`{ span.db.cached }`, paymentDB)
	f(`{ .db.cached && name =~ "SELECT.*" }`, paymentDB)
	f(`{ span.payment.retry }`)
	f(`{ span.payment.retry = false }`, paymentServer)
	f(`{ span.payment.retry != true }`, paymentServer)
	f(`{ span.http.method }`) // a string standing alone is not true
	// Strings compare lexically.
	f(`{ span.http.method > "GET" }`, frontendClient, checkoutServer)
	f(`{ span.http.method >= "GET" }`, frontendServer, frontendClient, checkoutServer)
	f(`{ span.rpc.service >= "payment" }`, checkoutClient)
	f(`{ resource.service.name < "d" }`, checkoutServer, checkoutClient, checkoutRender, checkoutPublish)
	f(`{ resource.service.name <= "checkout" }`, checkoutServer, checkoutClient, checkoutRender, checkoutPublish)
	// Missing attributes.
	f(`{ span.missing = "x" }`)
	f(`{ span.missing != "x" }`)
	f(`{ span.missing !~ "x" }`)
	f(`{ .missing < 1 }`)

	// Regular expressions match the whole value; "." matches newlines.
	f(`{ span.db.statement =~ "SELECT .*WHERE id = .*" }`, paymentDB) // across the newline
	f(`{ span.db.statement =~ "(?i)select.*" }`, paymentDB)
	f(`{ span.db.statement =~ "FROM" }`)
	f(`{ span.db.statement =~ ".*FROM.*" }`, paymentDB)
	f(`{ resource.service.name =~ "pay.*|check.*" }`, checkoutServer, checkoutClient, paymentServer, paymentDB, checkoutRender, checkoutPublish)
	f(`{ resource.service.name !~ "pay.*|check.*" }`, frontendServer, frontendClient, fulfillmentConsume)
	f(`{ span.http.status_code =~ "5.." }`) // not a string

	// && and || inside a filter share a precedence, left to right.
	f(`{ resource.service.name = "checkout" && kind = server || kind = consumer }`, checkoutServer, fulfillmentConsume)
	f(`{ kind = consumer || resource.service.name = "checkout" && kind = server }`, checkoutServer)
	f(`{ kind = consumer || (resource.service.name = "checkout" && kind = server) }`, checkoutServer, fulfillmentConsume)
	f(`{ (status = error || status = ok) && resource.service.name = "checkout" }`, checkoutServer, checkoutClient, checkoutRender)

	// Between spansets.
	f(`{ resource.service.name = "frontend" } && { status = ok }`, frontendServer, frontendClient, checkoutRender)
	f(`{ resource.service.name = "frontend" } && { resource.service.name = "nope" }`)
	f(`{ status = error } && { status = error }`, frontendClient, checkoutServer, checkoutClient, paymentServer)
	f(`{ kind = producer } || { kind = consumer }`, checkoutPublish, fulfillmentConsume)
	f(`{ kind = producer } || { name = "nope" }`, checkoutPublish)
	f(`{ name = "nope" } || { name = "nope either" }`)
	f(`{ resource.service.name = "checkout" } > { resource.service.name = "payment" }`, paymentServer)
	f(`{ resource.service.name = "payment" } > { resource.service.name = "payment" }`, paymentDB)
	f(`{ kind = server } > { kind = client }`, frontendClient, checkoutClient, paymentDB)
	f(`{ kind = client } > { kind = server }`, checkoutServer, paymentServer)
	f(`{ kind = server } > { kind = client } > { kind = server }`, checkoutServer, paymentServer)
	f(`{ kind = server } > ({ kind = client } > { kind = server })`)
	f(`{ name = "GET /checkout" } > { kind = server }`) // direct parent only
	f(`{} > { kind = consumer }`, fulfillmentConsume)
	f(`{ kind = consumer } > {}`)
	f(`{} > {}`, all(numTestSpans)[1:]...) // every span but the root
	f(`{ status = error } > { status = error }`, checkoutServer, checkoutClient, paymentServer)
	f(`{ status = error } > { status = error } > { status = error } > { status = error }`, paymentServer)
	f(`{ kind = producer } > { kind = consumer } && { status = error }`,
		frontendClient, checkoutServer, checkoutClient, paymentServer, fulfillmentConsume)
	f(`({ kind = producer } > { kind = consumer }) || { name = "nope" }`, fulfillmentConsume)
	f(`{ kind = server } && { kind = client } || { kind = producer }`,
		frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer, paymentDB, checkoutPublish)
	f(`{ kind = producer } || { kind = server } && { name = "nope" }`) // ({p} || {s}) && {nope}
	f(`{ kind = producer } || ({ kind = server } && { name = "nope" })`, checkoutPublish)
	f(`({ kind = producer } || { kind = internal }) > { kind = consumer }`, fulfillmentConsume)
	f(`{ resource.service.name = "frontend" && kind = server } && { resource.service.name = "payment" && status = error } > { span.db.system = "postgresql" }`,
		frontendServer, paymentDB)
}

func TestMatchEdgeCases(t *testing.T) {
	mustParse := func(q string) *Query {
		t.Helper()
		query, err := Parse(q)
		require.NoError(t, err, q)
		return query
	}

	require.Nil(t, mustParse(`{}`).Match(nil))
	var zeroQuery Query
	require.Nil(t, zeroQuery.Match(testTrace()))
	require.Empty(t, zeroQuery.String())
	require.Empty(t, zeroQuery.Conditions())
	require.Nil(t, mustParse(`{ .a = 1 }`).Match(testTrace()))

	// A partial trace without its root: rootName and rootServiceName are "".
	partial := testTrace()[paymentServer:]
	require.Equal(t, all(len(partial)), mustParse(`{ rootName = "" && rootServiceName = "" }`).Match(partial))
	require.Nil(t, mustParse(`{ rootServiceName = "frontend" }`).Match(partial))
	require.Equal(t, []int{1}, mustParse(`{ kind = server } > { kind = client }`).Match(partial))

	// A root without service.name.
	root := []Span{{Name: "root", Resource: map[string]Value{"service.name": IntValue(1)}}}
	require.Equal(t, []int{0}, mustParse(`{ rootName = "root" && rootServiceName = "" }`).Match(root))

	// Status and kind spellings.
	spellings := []Span{
		{StatusCode: "STATUS_CODE_ERROR", Kind: "SPAN_KIND_SERVER"},
		{StatusCode: "", Kind: ""},
		{StatusCode: "Ok", Kind: "Client"},
	}
	require.Equal(t, []int{0}, mustParse(`{ status = error && kind = server }`).Match(spellings))
	require.Equal(t, []int{1}, mustParse(`{ status = unset && kind = unspecified }`).Match(spellings))
	require.Equal(t, []int{2}, mustParse(`{ status = ok && kind = client }`).Match(spellings))

	// A span whose ID is all zero is no one's parent: roots are not its
	// children.
	zero := []Span{{Name: "a"}, {Name: "b", SpanID: spanID(1)}}
	require.Nil(t, mustParse(`{ name = "a" } > { name = "b" }`).Match(zero))

	// Values: exact int comparison beyond float precision, NaN, empty values.
	values := []Span{{Attributes: map[string]Value{
		"big": IntValue(1<<53 + 1), "nan": FloatValue(math.NaN()), "empty": {}, "inf": FloatValue(math.Inf(1)),
	}, Resource: map[string]Value{"empty": StringValue("from resource")}}}
	require.Equal(t, []int{0}, mustParse(`{ .big = 9007199254740993 }`).Match(values))
	require.Nil(t, mustParse(`{ .big = 9007199254740992 }`).Match(values))
	require.Equal(t, []int{0}, mustParse(`{ .big > 9007199254740992 }`).Match(values))
	require.Nil(t, mustParse(`{ .nan = 1.0 }`).Match(values))
	require.Nil(t, mustParse(`{ .nan < 1 || .nan >= 1 }`).Match(values))
	require.Equal(t, []int{0}, mustParse(`{ .nan != 1.0 }`).Match(values))
	require.Equal(t, []int{0}, mustParse(`{ .inf > 1e308 }`).Match(values))
	require.Nil(t, mustParse(`{ span.empty != "x" }`).Match(values))
	// A span attribute without a value does not hide the resource's.
	require.Equal(t, []int{0}, mustParse(`{ .empty = "from resource" }`).Match(values))

	// Spans in any order; parents found by ID.
	tr := testTrace()
	reversed := make([]Span, len(tr))
	for i := range tr {
		reversed[len(tr)-1-i] = tr[i]
	}
	require.Equal(t, []int{len(tr) - 1 - paymentServer, len(tr) - 1 - checkoutServer},
		mustParse(`{ kind = client } > { kind = server }`).Match(reversed))

	// A Query is safe for concurrent use.
	q := mustParse(`{ kind = server } > { kind = client } && { traceDuration > 1s && rootName =~ "GET.*" }`)
	want := q.Match(tr)
	done := make(chan []int)
	for range 4 {
		go func() { done <- q.Match(testTrace()) }()
	}
	for range 4 {
		require.Equal(t, want, <-done)
	}
}

// TestMatchStructural checks the structural operators against testTrace,
// whose tree is
//
//	frontendServer (server)
//	└ frontendClient (client, error)
//	  └ checkoutServer (server, error)
//	    ├ checkoutClient (client, error)
//	    │ └ paymentServer (server, error)
//	    │   └ paymentDB (client)
//	    ├ checkoutRender (internal, ok)
//	    └ checkoutPublish (producer)
//	      └ fulfillmentConsume (consumer)
//
// with the results worked out by hand from it.
func TestMatchStructural(t *testing.T) {
	trace := testTrace()
	f := func(q string, want ...int) {
		t.Helper()
		query, err := Parse(q)
		require.NoError(t, err, q)
		if len(want) == 0 {
			want = nil
		}
		require.Equal(t, want, query.Match(trace), q)
		again, err := Parse(query.String())
		require.NoError(t, err)
		require.Equal(t, query.String(), again.String())
		require.Equal(t, want, again.Match(trace), query.String())
	}
	// >> descendant: the right side's spans below a left-side span.
	f(`{ kind = server } >> { kind = client }`, frontendClient, checkoutClient, paymentDB)
	f(`{ rootName = "GET /checkout" && kind = server } >> { kind = consumer }`, fulfillmentConsume)
	f(`{ resource.service.name = "payment" } >> { resource.service.name = "payment" }`, paymentDB)
	f(`{ kind = consumer } >> {}`)
	// << ancestor: the right side's spans above a left-side span.
	f(`{ kind = consumer } << {}`, frontendServer, frontendClient, checkoutServer, checkoutPublish)
	f(`{ name = "SELECT payments" } << { status = error }`, frontendClient, checkoutServer, checkoutClient, paymentServer)
	// < parent: the right side's spans that are the direct parent of a
	// left-side span.
	f(`{ status = error } < { kind = server }`, frontendServer, checkoutServer)
	f(`{ kind = consumer } < { kind = server }`)
	// ~ sibling: another span with the same parent; a span is not its own
	// sibling, and the root has none.
	f(`{ status = ok } ~ {}`, checkoutClient, checkoutPublish)
	f(`{ kind = producer } ~ { kind = internal || kind = producer }`, checkoutRender)
	f(`{ resource.service.name = "checkout" } ~ { resource.service.name = "checkout" }`, checkoutClient, checkoutRender, checkoutPublish)
	f(`{} ~ {}`, checkoutClient, checkoutRender, checkoutPublish)
	// > child, as before.
	f(`{ kind = server } > { kind = client }`, frontendClient, checkoutClient, paymentDB)

	// Union forms: the spans of both sides that stand in the relation.
	// Tempo's docs' example: a failing span and the failing spans below it.
	f(`{ status = error } &>> { status = error }`, frontendClient, checkoutServer, checkoutClient, paymentServer)
	// Traces Drilldown's structure tab: the root and the server spans below.
	f(`{ nestedSetParent < 0 && true } &>> { kind = server }`, frontendServer, checkoutServer, paymentServer)
	f(`({ nestedSetParent < 0 && true } &>> { kind = server }) || ({ nestedSetParent < 0 && true })`, frontendServer, checkoutServer, paymentServer)
	f(`{ kind = server } &> { kind = client }`, frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer, paymentDB)
	f(`{ kind = consumer } &< { kind = producer }`, checkoutPublish, fulfillmentConsume)
	f(`{ kind = consumer } &<< { kind = server }`, frontendServer, checkoutServer, fulfillmentConsume)
	f(`{ status = ok } &~ { kind = producer }`, checkoutRender, checkoutPublish)
	f(`{ kind = internal } &~ { kind = internal }`)
	f(`{ name = "nope" } &>> {}`)
	f(`{} &>> { name = "nope" }`)

	// Negated forms (Tempo's experimental !>, !<, !>>, !<<, !~): the right
	// side's spans that stand in the relation to no left-side span; as the
	// others, nothing when either side matches nothing.
	f(`{ kind = server } !> { kind = client }`) // every client's parent is a server
	f(`{ kind = server } !> {}`, frontendServer, checkoutServer, paymentServer, fulfillmentConsume)
	f(`{ status = error } !< { kind = server }`, paymentServer)
	f(`{ kind = consumer } !>> {}`, all(numTestSpans)...)
	f(`{ resource.service.name = "payment" } !>> { kind = client }`, frontendClient, checkoutClient)
	f(`{ kind = consumer } !<< {}`, checkoutClient, paymentServer, paymentDB, checkoutRender, fulfillmentConsume)
	f(`{ status = ok } !~ {}`, frontendServer, frontendClient, checkoutServer, paymentServer, paymentDB, checkoutRender, fulfillmentConsume)
	f(`{ name = "nope" } !> {}`)
	f(`{} !<< { name = "nope" }`)
	f(`{ kind = consumer } || { kind = server } !> { kind = client }`, fulfillmentConsume)

	// Precedence: the structural operators bind alike, to the left, and
	// more tightly than && and ||.
	f(`{ status = ok } ~ {} >> { kind = consumer }`, fulfillmentConsume)
	f(`{ kind = consumer } && { status = ok } ~ { kind = producer }`, checkoutPublish, fulfillmentConsume)
	f(`{ kind = consumer } || { status = ok } &~ { kind = producer }`, checkoutRender, checkoutPublish, fulfillmentConsume)
}

// TestMatchStructuralBadParents: spans whose parents form a cycle, or
// whose parent is missing, end the walks up and down the tree.
func TestMatchStructuralBadParents(t *testing.T) {
	span := func(i, parent int, name string) Span {
		s := Span{SpanID: spanID(i), Name: name, Start: t0}
		if parent >= 0 {
			s.ParentSpanID = spanID(parent)
		}
		return s
	}
	// a and b are each other's parent; c is a's child; d's parent is not
	// in the trace; e is d's child.
	trace := []Span{span(0, 1, "a"), span(1, 0, "b"), span(2, 0, "c"), span(3, 9, "d"), span(4, 3, "e")}
	f := func(q string, want ...int) {
		t.Helper()
		if len(want) == 0 {
			want = nil
		}
		require.Equal(t, want, mustParse(t, q).Match(trace), q)
	}
	f(`{ name = "x" } >> {}`)
	f(`{ name = "a" } >> {}`, 0, 1, 2)
	f(`{ name = "c" } << {}`, 0, 1)
	f(`{ name = "e" } << {}`, 3)
	f(`{ name = "d" } >> {}`, 4)
	f(`{} >> { name = "d" }`)
	f(`{ name = "x" } << {}`)
	f(`{} ~ {}`, 1, 2) // b and c are a's children
	f(`{ name = "c" } &<< { name = "a" }`, 0, 2)
}

// TestMatchAggregates checks aggregate filters as Tempo's docs define them:
// the aggregate is computed over the spanset the expression before it
// matched, and a spanset whose comparison is false is dropped (the trace
// does not match); otherwise the spanset passes unchanged.
func TestMatchAggregates(t *testing.T) {
	f := matcher(t, testTrace())
	errs := []int{frontendClient, checkoutServer, checkoutClient, paymentServer} // 1000, 950, 800, 780 ms

	// count(): 4 error spans.
	f(`{ status = error } | count() > 3`, errs...)
	f(`{ status = error } | count() > 4`)
	f(`{ status = error } | count() = 4`, errs...)
	f(`{ status = error } | count() != 4`)
	f(`{ status = error } | count() >= 4`, errs...)
	f(`{ status = error } | count() < 4`)
	f(`{ status = error } | count() <= 4`, errs...)
	f(`{ status = error } | count() > 3.5`, errs...)
	f(`{ name = "nothing" } | count() = 0`) // no spanset, nothing to count
	// The union of && is the spanset: 3 servers and 3 clients.
	f(`{ kind = server } && { kind = client } | count() = 6`, frontendServer, frontendClient, checkoutServer, checkoutClient, paymentServer, paymentDB)

	// avg, min, max, sum of durations: (1000+950+800+780)/4 = 882.5ms.
	f(`{ status = error } | avg(duration) > 882ms`, errs...)
	f(`{ status = error } | avg(duration) > 883ms`)
	f(`{ status = error } | avg(duration) < 883ms`, errs...)
	f(`{ status = error } | min(duration) = 780ms`, errs...)
	f(`{ status = error } | min(duration) < 780ms`)
	f(`{ status = error } | max(span:duration) = 1s`, errs...)
	f(`{ status = error } | max(duration) > 1s`)
	f(`{ status = error } | sum(duration) = 3.53s`, errs...)
	f(`{ status = error } | sum(duration) != 3.53s`)
	f(`{ status = error } | min(duration) > 1000`, errs...) // a duration is its nanoseconds

	// Attributes: spans without the field, or with a non-number, are left out.
	f(`{ .http.status_code >= 500 } | sum(span.http.status_code) = 1500`, frontendServer, frontendClient, checkoutServer)
	f(`{} | sum(span.http.status_code) = 1500`, all(numTestSpans)...)
	f(`{} | avg(span.db.rows) = 3`, all(numTestSpans)...)
	f(`{} | sum(.payment.amount) = 42.5`, all(numTestSpans)...)
	f(`{} | max(.db.load) < 0.3 | min(.db.load) >= 0.25`, all(numTestSpans)...)
	f(`{} | max(span.missing) >= 0`)
	f(`{} | sum(span.http.method) > 0`) // strings are not summed

	// Chained stages: each must hold; select does not change what matches.
	f(`{ status = error } | count() > 1 | avg(duration) < 500ms`)
	f(`{ status = error } | count() > 1 | select(span.http.method) | max(duration) <= 1s`, errs...)
}

// TestMatchPipelineFilters: a spanset expression after | runs over the
// spans the stage before it kept, as Tempo evaluates it over its input
// spanset; trace-level intrinsics still read the whole trace.
func TestMatchPipelineFilters(t *testing.T) {
	f := matcher(t, testTrace())
	errs := []int{frontendClient, checkoutServer, checkoutClient, paymentServer}
	f(`{ status = error } | { kind = server }`, checkoutServer, paymentServer)
	f(`{ status = error } | { kind = consumer }`)
	f(`{ status = error } | {}`, errs...)
	// Relations among the kept spans only: frontendClient's parent is not
	// an error span, checkoutClient's is (on the whole trace, > finds
	// frontendClient, checkoutClient and paymentDB).
	f(`{ status = error } | { kind = server } > { kind = client }`, checkoutClient)
	f(`{ kind = client } | { kind = server } && {}`) // no server among the clients
	f(`{ kind = client } | ({ kind = server } || { name = "SELECT payments" })`, paymentDB)
	// Trace-level intrinsics: the root and the trace's span (0 to 1.8s).
	f(`{ kind = client } | { rootName = "GET /checkout" }`, frontendClient, checkoutClient, paymentDB)
	f(`{ status = error } | { traceDuration = 1.8s }`, errs...)
	// With aggregates, select and coalesce() (one spanset per trace here).
	f(`{} | { status = error } | count() = 4`, errs...)
	f(`{} | { status = error } | count() = 9`)
	f(`{ status = error } | coalesce() | count() = 4`, errs...)
	f(`{ status = error } | select(.a) | { kind = server } | max(duration) = 950ms`, checkoutServer, paymentServer)
}
