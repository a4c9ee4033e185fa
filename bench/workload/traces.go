package workload

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// TraceShape is the kind of traces a TraceGenerator builds.
type TraceShape string

const (
	// TraceShapeRealistic: traces of 3–10 spans through a shop of twelve
	// services (see traceServices), with HTTP and database attributes,
	// CLIENT→SERVER pairs across services and a few percent of errors.
	TraceShapeRealistic TraceShape = "realistic"
	// TraceShapeTelemetrygen: what `telemetrygen traces` sends with its
	// defaults (opentelemetry-collector-contrib, cmd/telemetrygen/internal/
	// traces/worker.go): per trace a CLIENT span "lets-go" and its SERVER
	// child "okey-dokey-0", both with net.sock.peer.addr=1.2.3.4 and
	// peer.service, status Unset, 123 µs long, from the resource
	// service.name=telemetrygen and the scope "telemetrygen".
	TraceShapeTelemetrygen TraceShape = "telemetrygen"
)

// TraceOptions describe a trace load.
type TraceOptions struct {
	Shape TraceShape
	// SpansPerRequest bounds one OTLP request; requests hold whole traces,
	// so they carry between SpansPerRequest-9 and SpansPerRequest spans.
	SpansPerRequest int
	// SampledTraces is the size of the uniform sample of sent traces kept
	// for lookups (a reservoir, so it covers the whole run).
	SampledTraces int
	// ChildSpans is telemetrygen's -child-spans (TraceShapeTelemetrygen).
	ChildSpans int
	// Seed makes the load reproducible, together with the generator's own
	// seed.
	Seed uint64
}

// DefaultTraceOptions are realistic defaults: requests of about 1,000
// spans, as a collector's batch processor sends them.
func DefaultTraceOptions() TraceOptions {
	return TraceOptions{Shape: TraceShapeRealistic, SpansPerRequest: 1000, SampledTraces: 1000, ChildSpans: 1}
}

// SampledTrace is a sent trace that lookups can ask for.
type SampledTrace struct {
	ID          [16]byte
	Spans       int
	ErrorSpans  int
	RootService string
}

// TraceStats count what a generator handed out in requests.
type TraceStats struct {
	Traces, Spans, ErrorSpans int64
}

// TraceGenerator builds OTLP trace requests. It is not safe for concurrent
// use: give each sender its own, with its own seed.
type TraceGenerator struct {
	opts TraceOptions
	rng  *rand.Rand
	// sampler draws the reservoir on its own stream, so that the traces do
	// not depend on SampledTraces.
	sampler *rand.Rand
	stats   TraceStats
	sampled []SampledTrace
	// pending is a trace built but not yet sent: it did not fit the last
	// request.
	pending []genSpan
	// buf and kids are reused from request to request.
	buf  []genSpan
	kids [][]int
	// resources maps a (service, instance) to its ResourceSpans' span slice
	// while one request is encoded.
	resources map[int]ptrace.SpanSlice
}

// NewTraceGenerator returns a generator; seed differs per sender.
func NewTraceGenerator(opts TraceOptions, seed uint64) *TraceGenerator {
	if opts.SpansPerRequest < MaxTraceSpans {
		opts.SpansPerRequest = MaxTraceSpans
	}
	if opts.ChildSpans < 1 {
		opts.ChildSpans = 1
	}
	return &TraceGenerator{
		opts:      opts,
		rng:       rand.New(rand.NewPCG(seed, opts.Seed^0x7f4a7c159e3779b9)),
		sampler:   rand.New(rand.NewPCG(seed, opts.Seed^0x2545f4914f6cdd1d)),
		resources: map[int]ptrace.SpanSlice{},
	}
}

// Stats counts the spans and traces of every request returned so far.
func (g *TraceGenerator) Stats() TraceStats { return g.stats }

// Sampled is a uniform sample of the traces returned so far (at most
// SampledTraces of them).
func (g *TraceGenerator) Sampled() []SampledTrace { return g.sampled }

// SearchService is the service whose failing spans the benchmark's
// TraceQL search looks for: payment fails more than the others.
const SearchService = "payment"

// Request returns the next request: whole traces, of about SpansPerRequest
// spans in all, which end around now.
func (g *TraceGenerator) Request(now time.Time) ptrace.Traces {
	return g.RequestMax(now, g.opts.SpansPerRequest)
}

// RequestMax is Request with at most maxSpans spans (and no more than
// SpansPerRequest). It is empty when the next trace is longer than
// maxSpans: traces are never split, so a sender with a fixed number of
// spans to send ends with RequestMax(now, MaxTraceSpans), passing it by a
// few spans.
func (g *TraceGenerator) RequestMax(now time.Time, maxSpans int) ptrace.Traces {
	maxSpans = min(maxSpans, g.opts.SpansPerRequest)
	spans := g.buf[:0]
	for {
		if g.pending == nil {
			if g.opts.Shape == TraceShapeTelemetrygen {
				g.pending = g.telemetrygenTrace(now)
			} else {
				g.pending = g.realisticTrace(now)
			}
		}
		if len(spans)+len(g.pending) > maxSpans {
			break
		}
		g.count(g.pending)
		spans = append(spans, g.pending...)
		g.pending = nil
	}
	g.buf = spans
	if g.opts.Shape == TraceShapeTelemetrygen {
		return encodeTelemetrygen(spans)
	}
	return g.encode(spans)
}

// count records a trace that goes into a request.
func (g *TraceGenerator) count(trace []genSpan) {
	st := SampledTrace{ID: trace[0].traceID, Spans: len(trace), RootService: "telemetrygen"}
	if trace[0].kind == kindServer {
		st.RootService = traceServices[trace[0].svc].name
	}
	for _, s := range trace {
		if s.err {
			st.ErrorSpans++
		}
	}
	g.stats.Traces++
	g.stats.Spans += int64(st.Spans)
	g.stats.ErrorSpans += int64(st.ErrorSpans)
	// Reservoir sampling (Algorithm R).
	switch {
	case len(g.sampled) < g.opts.SampledTraces:
		g.sampled = append(g.sampled, st)
	case g.opts.SampledTraces > 0:
		if i := g.sampler.Int64N(g.stats.Traces); i < int64(g.opts.SampledTraces) {
			g.sampled[i] = st
		}
	}
}

// spanKind of a generated span, finer than OTLP's: it decides the
// attributes.
type spanKind uint8

const (
	kindServer spanKind = iota
	kindHTTPClient
	kindDBClient
	kindInternal
	// telemetrygen's two spans.
	kindTGParent
	kindTGChild
)

// genSpan is a span before it is encoded; strings point into the tables
// below or are built once per span.
type genSpan struct {
	traceID        [16]byte
	spanID, parent [8]byte
	kind           spanKind
	svc, instance  int // index in traceServices, instance of it
	peer           int // callee service (kindHTTPClient)
	name           string
	start, end     int64 // Unix ns
	route          *traceRoute
	target         string // url.full (HTTP client) or db.query.text
	op             *dbOp
	internal       *internalOp
	items          int64 // an application attribute of internal spans
	status         int64 // HTTP status code
	err            bool
	errMsg         string
	clientAddr     string // root span only
	userAgent      string // root span only
}

// traceService is one service of the simulated shop.
type traceService struct {
	name, version, language string
	routes                  []traceRoute
	calls                   []int // indexes of the services it calls
	db                      *traceDB
	internal                []internalOp
	// errPercent is the chance (in percent) that one of its SERVER spans
	// fails on its own.
	errPercent float64
}

type traceRoute struct {
	method, path string
	medianMs     float64 // latency of the whole request when it is a root
}

type traceDB struct {
	system, namespace, host string
	port                    int64
	ops                     []dbOp
}

type dbOp struct {
	name, collection, query string
	idKey                   string // the query ends with a generated key
}

type internalOp struct {
	name, function string
}

// Services by index; calls refer to these indexes.
const (
	svcFrontend = iota
	svcAuth
	svcCart
	svcCheckout
	svcPayment
	svcCatalog
	svcSearch
	svcRecommendation
	svcShipping
	svcCurrency
	svcEmail
	svcAds
)

var (
	pgOrders = &traceDB{system: "postgresql", namespace: "orders", host: "orders-db", port: 5432, ops: []dbOp{
		{"SELECT", "orders", "SELECT id, status, total_cents FROM orders WHERE id = $1", ""},
		{"INSERT", "orders", "INSERT INTO orders (user_id, total_cents, currency) VALUES ($1, $2, $3)", ""},
		{"UPDATE", "order_items", "UPDATE order_items SET reserved = true WHERE order_id = $1", ""},
	}}
	pgPayments = &traceDB{system: "postgresql", namespace: "payments", host: "payments-db", port: 5432, ops: []dbOp{
		{"INSERT", "charges", "INSERT INTO charges (order_id, amount_cents, card_token) VALUES ($1, $2, $3)", ""},
		{"SELECT", "cards", "SELECT token, brand, last4 FROM cards WHERE user_id = $1", ""},
	}}
	pgCatalog = &traceDB{system: "postgresql", namespace: "catalog", host: "catalog-db", port: 5432, ops: []dbOp{
		{"SELECT", "products", "SELECT id, name, price_cents, stock FROM products WHERE id = $1", ""},
		{"SELECT", "products", "SELECT id, name, price_cents FROM products WHERE category = $1 ORDER BY rank LIMIT 20", ""},
	}}
	pgShipping = &traceDB{system: "postgresql", namespace: "shipping", host: "shipping-db", port: 5432, ops: []dbOp{
		{"SELECT", "rates", "SELECT carrier, cents FROM rates WHERE zone = $1 AND weight_g <= $2", ""},
		{"INSERT", "shipments", "INSERT INTO shipments (order_id, carrier, address_id) VALUES ($1, $2, $3)", ""},
	}}
	redisSessions = &traceDB{system: "redis", namespace: "0", host: "sessions-redis", port: 6379, ops: []dbOp{
		{"GET", "", "GET session:", "session"},
		{"EXPIRE", "", "EXPIRE session:", "session"},
	}}
	redisCarts = &traceDB{system: "redis", namespace: "1", host: "carts-redis", port: 6379, ops: []dbOp{
		{"HGETALL", "", "HGETALL cart:", "cart"},
		{"HSET", "", "HSET cart:", "cart"},
	}}
	esProducts = &traceDB{system: "elasticsearch", namespace: "products", host: "search-es", port: 9200, ops: []dbOp{
		{"search", "products", "GET /products/_search", ""},
	}}
)

// traceServices is the shop: a frontend in front of eleven services, the
// usual microservice demo. Every service has internal operations or a
// database, so any span count fits any tree.
var traceServices = []traceService{
	svcFrontend: {name: "frontend", version: "2.14.1", language: "nodejs", errPercent: 3,
		routes: []traceRoute{
			{"GET", "/", 40}, {"GET", "/product/{id}", 60}, {"GET", "/cart", 45},
			{"POST", "/cart/checkout", 180}, {"GET", "/search", 90}, {"POST", "/cart/items", 50},
		},
		calls:    []int{svcCart, svcCheckout, svcCatalog, svcSearch, svcRecommendation, svcAuth, svcAds, svcCurrency},
		internal: []internalOp{{"render page", "renderPage"}, {"load session", "loadSession"}}},
	svcAuth: {name: "auth", version: "1.8.0", language: "go", errPercent: 4,
		routes:   []traceRoute{{"POST", "/auth/verify", 8}, {"GET", "/auth/user/{id}", 10}},
		db:       redisSessions,
		internal: []internalOp{{"verify token", "auth.VerifyToken"}}},
	svcCart: {name: "cart", version: "3.2.4", language: "dotnet", errPercent: 4,
		routes:   []traceRoute{{"GET", "/cart/{userId}", 12}, {"POST", "/cart/{userId}/items", 15}, {"DELETE", "/cart/{userId}", 10}},
		calls:    []int{svcCatalog},
		db:       redisCarts,
		internal: []internalOp{{"merge cart", "CartService.Merge"}}},
	svcCheckout: {name: "checkout", version: "1.31.0", language: "go", errPercent: 6,
		routes:   []traceRoute{{"POST", "/checkout", 150}, {"POST", "/checkout/{orderId}/retry", 120}},
		calls:    []int{svcCart, svcPayment, svcShipping, svcCurrency, svcEmail, svcCatalog},
		db:       pgOrders,
		internal: []internalOp{{"prepare order items", "checkout.PrepareItems"}, {"validate address", "checkout.ValidateAddress"}}},
	svcPayment: {name: "payment", version: "0.9.12", language: "nodejs", errPercent: 15,
		routes:   []traceRoute{{"POST", "/charge", 80}, {"POST", "/refund", 60}},
		db:       pgPayments,
		internal: []internalOp{{"fraud check", "fraudCheck"}, {"tokenize card", "tokenizeCard"}}},
	svcCatalog: {name: "catalog", version: "4.0.2", language: "go", errPercent: 3,
		routes:   []traceRoute{{"GET", "/products", 20}, {"GET", "/products/{id}", 8}},
		db:       pgCatalog,
		internal: []internalOp{{"decode product", "catalog.DecodeProduct"}}},
	svcSearch: {name: "search", version: "2.3.0", language: "java", errPercent: 4,
		routes:   []traceRoute{{"GET", "/search", 70}},
		calls:    []int{svcCatalog},
		db:       esProducts,
		internal: []internalOp{{"rank results", "SearchRanker.rank"}, {"parse query", "QueryParser.parse"}}},
	svcRecommendation: {name: "recommendation", version: "1.4.7", language: "python", errPercent: 4,
		routes:   []traceRoute{{"GET", "/recommendations", 35}},
		calls:    []int{svcCatalog},
		internal: []internalOp{{"score candidates", "recommender.score"}, {"load model", "recommender.load_model"}}},
	svcShipping: {name: "shipping", version: "1.12.3", language: "rust", errPercent: 4,
		routes:   []traceRoute{{"POST", "/shipping/quote", 25}, {"POST", "/shipping/ship", 40}},
		calls:    []int{svcCurrency},
		db:       pgShipping,
		internal: []internalOp{{"compute parcel", "shipping::parcel"}}},
	svcCurrency: {name: "currency", version: "1.0.9", language: "cpp", errPercent: 3,
		routes:   []traceRoute{{"GET", "/currency/convert", 3}},
		internal: []internalOp{{"lookup rate", "Currency::LookupRate"}}},
	svcEmail: {name: "email", version: "0.4.1", language: "ruby", errPercent: 6,
		routes:   []traceRoute{{"POST", "/email/confirmation", 30}},
		internal: []internalOp{{"render template", "EmailService#render"}, {"send mail", "EmailService#deliver"}}},
	svcAds: {name: "ads", version: "2.0.0", language: "java", errPercent: 3,
		routes:   []traceRoute{{"GET", "/ads", 15}},
		internal: []internalOp{{"select ads", "AdService.select"}}},
}

// traceInstances is the number of instances (pods) of each service.
const traceInstances = 3

// Span counts of a realistic trace; MaxTraceSpans is also the most spans
// a trace of either shape has.
const (
	minTraceSpans = 3
	MaxTraceSpans = 10
)

var (
	userAgents = []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0 Safari/537.36",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"shop-android/5.3.1 okhttp/4.12.0",
	}
	serverErrors = []struct {
		status int64
		msg    string
	}{
		{500, "internal error: nil pointer dereference"},
		{503, "upstream connect error or disconnect/reset before headers"},
		{504, "context deadline exceeded"},
	}
	dbErrors = []string{"deadlock detected", "connection reset by peer", "canceling statement due to statement timeout"}
)

func (g *TraceGenerator) newTraceID() (id [16]byte) {
	for id == ([16]byte{}) {
		binary.BigEndian.PutUint64(id[:8], g.rng.Uint64())
		binary.BigEndian.PutUint64(id[8:], g.rng.Uint64())
	}
	return id
}

func (g *TraceGenerator) newSpanID() (id [8]byte) {
	for id == ([8]byte{}) {
		binary.BigEndian.PutUint64(id[:], g.rng.Uint64())
	}
	return id
}

// fill replaces a route's {placeholders} with generated IDs.
func (g *TraceGenerator) fill(path string) string {
	if !strings.Contains(path, "{") {
		return path
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(path, '{')
		if i < 0 {
			b.WriteString(path)
			return b.String()
		}
		j := strings.IndexByte(path[i:], '}')
		b.WriteString(path[:i])
		b.WriteString(strconv.Itoa(100_000 + g.rng.IntN(900_000)))
		path = path[i+j+1:]
	}
}

// realisticTrace builds one trace of 3–10 spans that ends around now.
func (g *TraceGenerator) realisticTrace(now time.Time) []genSpan {
	n := minTraceSpans + g.rng.IntN(MaxTraceSpans-minTraceSpans+1)
	tid := g.newTraceID()
	spans := make([]genSpan, 0, n)

	// The root: a request to the frontend, or (one in ten) an API client
	// calling the search or checkout service directly.
	rootSvc := svcFrontend
	if g.rng.IntN(10) == 0 {
		rootSvc = []int{svcSearch, svcCheckout}[g.rng.IntN(2)]
	}
	spans = append(spans, g.serverSpan(tid, [8]byte{}, rootSvc))
	root := &spans[0]
	root.clientAddr = fmt.Sprintf("10.%d.%d.%d", g.rng.IntN(8), g.rng.IntN(256), 1+g.rng.IntN(254))
	root.userAgent = userAgents[g.rng.IntN(len(userAgents))]
	servers := []int{0}

	for len(spans) < n {
		// Half of the time the newest server span gets the next child:
		// that makes call chains deeper than one hop.
		p := servers[len(servers)-1]
		if g.rng.IntN(2) == 0 {
			p = servers[g.rng.IntN(len(servers))]
		}
		caller := &traceServices[spans[p].svc]
		pid := spans[p].spanID
		switch r := g.rng.IntN(10); {
		case n-len(spans) >= 2 && len(caller.calls) > 0 && r < 7:
			callee := caller.calls[g.rng.IntN(len(caller.calls))]
			server := g.serverSpan(tid, [8]byte{}, callee)
			client := genSpan{traceID: tid, spanID: g.newSpanID(), parent: pid, kind: kindHTTPClient,
				svc: spans[p].svc, instance: spans[p].instance, peer: callee, route: server.route, status: server.status}
			client.name = client.route.method + " " + client.route.path
			client.target = "http://" + traceServices[callee].name + ":8080" + g.fill(client.route.path)
			server.parent = client.spanID
			spans = append(spans, client, server)
			servers = append(servers, len(spans)-1)
		case caller.db != nil && (r < 8 || len(caller.internal) == 0):
			op := &caller.db.ops[g.rng.IntN(len(caller.db.ops))]
			s := genSpan{traceID: tid, spanID: g.newSpanID(), parent: pid, kind: kindDBClient,
				svc: spans[p].svc, instance: spans[p].instance, op: op, target: op.query}
			s.name = op.name
			if op.collection != "" {
				s.name += " " + op.collection
			}
			if op.idKey != "" {
				s.target += strconv.Itoa(g.rng.IntN(1_000_000))
			}
			spans = append(spans, s)
		default:
			op := &caller.internal[g.rng.IntN(len(caller.internal))]
			spans = append(spans, genSpan{traceID: tid, spanID: g.newSpanID(), parent: pid, kind: kindInternal,
				svc: spans[p].svc, instance: spans[p].instance, internal: op, name: op.name, items: int64(1 + g.rng.IntN(12))})
		}
	}
	g.failures(spans)
	g.timings(spans, now)
	return spans
}

// serverSpan is the SERVER span of a request to service svc.
func (g *TraceGenerator) serverSpan(tid [16]byte, parent [8]byte, svc int) genSpan {
	s := &traceServices[svc]
	r := &s.routes[g.rng.IntN(len(s.routes))]
	status := int64(200)
	switch r.method {
	case "POST":
		if g.rng.IntN(4) == 0 {
			status = 201
		}
	case "DELETE":
		status = 204
	}
	return genSpan{traceID: tid, spanID: g.newSpanID(), parent: parent, kind: kindServer, svc: svc,
		instance: g.rng.IntN(traceInstances), route: r, name: r.method + " " + r.path, status: status}
}

// parentIndex finds the span whose ID is p among spans[:i].
func parentIndex(spans []genSpan, i int) int {
	for j := i - 1; j >= 0; j-- {
		if spans[j].spanID == spans[i].parent {
			return j
		}
	}
	return -1
}

// failures decides which spans fail. A server span or a query fails on its
// own now and then; a failure then travels up: the calling CLIENT span
// always sees it, the caller's own SERVER span fails with it half of the
// time (the other half it retries or degrades). Children come after their
// parents in spans, so one backwards pass sees every child first.
func (g *TraceGenerator) failures(spans []genSpan) {
	for i := len(spans) - 1; i >= 0; i-- {
		s := &spans[i]
		switch s.kind {
		case kindServer:
			if !s.err && g.rng.Float64()*100 < traceServices[s.svc].errPercent {
				e := serverErrors[g.rng.IntN(len(serverErrors))]
				s.err, s.status, s.errMsg = true, e.status, e.msg
			}
		case kindDBClient:
			if g.rng.IntN(100) == 0 {
				s.err, s.errMsg = true, dbErrors[g.rng.IntN(len(dbErrors))]
			}
		}
		if !s.err || i == 0 {
			continue
		}
		p := &spans[parentIndex(spans, i)]
		switch {
		case p.err:
		case s.kind == kindServer: // p is its CLIENT span
			p.err, p.status, p.errMsg = true, s.status, fmt.Sprintf("%d %s", s.status, statusText(s.status))
		case g.rng.IntN(2) == 0: // p is a SERVER span
			p.err, p.errMsg = true, s.errMsg
			if p.kind == kindServer {
				p.status = 500
			}
		}
	}
}

func statusText(code int64) string {
	switch code {
	case 500:
		return "Internal Server Error"
	case 503:
		return "Service Unavailable"
	case 504:
		return "Gateway Timeout"
	}
	return ""
}

// timings gives every span its start and end: the root lasts about its
// route's median latency (log-normal, with a slow tail) and ends at now;
// children share their parent's time, one after the other or (one parent
// in four) all at once, as a fan-out does; a SERVER span sits inside its
// CLIENT span, shorter by the network.
func (g *TraceGenerator) timings(spans []genSpan, now time.Time) {
	for len(g.kids) < len(spans) {
		g.kids = append(g.kids, nil)
	}
	kids := g.kids[:len(spans)]
	for i := range kids {
		kids[i] = kids[i][:0]
	}
	for i := 1; i < len(spans); i++ {
		p := parentIndex(spans, i)
		kids[p] = append(kids[p], i)
	}
	median := spans[0].route.medianMs * float64(time.Millisecond)
	d := median * math.Exp(0.5*g.rng.NormFloat64())
	if g.rng.IntN(100) == 0 {
		d *= 5 + 10*g.rng.Float64() // the slow tail
	}
	end := now.UnixNano() - int64(g.rng.IntN(int(time.Millisecond)))
	g.place(spans, kids, 0, end-int64(d), int64(d)+1000)
}

func (g *TraceGenerator) place(spans []genSpan, kids [][]int, i int, start, dur int64) {
	dur = max(dur, 1000) // 1 µs
	spans[i].start, spans[i].end = start, start+dur
	ks := kids[i]
	if len(ks) == 0 {
		return
	}
	if spans[i].kind == kindHTTPClient {
		// The one child is the callee's SERVER span: the network takes a
		// little on each side.
		net := min(dur/10, int64(300_000+g.rng.IntN(700_000)))
		g.place(spans, kids, ks[0], start+net, dur-2*net)
		return
	}
	// The span's own work takes 5–15%; the children share the rest.
	own := int64(float64(dur) * (0.05 + 0.1*g.rng.Float64()))
	avail := dur - own
	if len(ks) > 1 && g.rng.IntN(4) == 0 {
		for _, k := range ks {
			g.place(spans, kids, k, start+own/2, int64(float64(avail)*(0.5+0.5*g.rng.Float64())))
		}
		return
	}
	w := make([]float64, len(ks))
	sum := 0.0
	for j := range w {
		w[j] = 0.5 + g.rng.Float64()
		if spans[ks[j]].kind == kindInternal {
			w[j] *= 0.4 // in-process work is quicker than a call
		}
		sum += w[j]
	}
	cursor := start + own/2
	for j, k := range ks {
		slot := int64(float64(avail) * w[j] / sum)
		g.place(spans, kids, k, cursor, int64(float64(slot)*(0.7+0.25*g.rng.Float64())))
		cursor += slot
	}
}

// telemetrygenTrace is what one telemetrygen worker iteration exports: the
// children end first, so the SDK's batch holds them before their parent.
func (g *TraceGenerator) telemetrygenTrace(now time.Time) []genSpan {
	const spanDuration = int64(123 * time.Microsecond) // telemetrygen's -span-duration default
	tid := g.newTraceID()
	parent := genSpan{traceID: tid, spanID: g.newSpanID(), kind: kindTGParent, name: "lets-go", svc: svcFrontend}
	start := now.UnixNano()
	parent.start = start
	out := make([]genSpan, 0, g.opts.ChildSpans+1)
	for j := 0; j < g.opts.ChildSpans; j++ {
		out = append(out, genSpan{traceID: tid, spanID: g.newSpanID(), parent: parent.spanID, kind: kindTGChild,
			name: "okey-dokey-" + strconv.Itoa(j), start: start, end: start + spanDuration, svc: svcFrontend})
		start += spanDuration
	}
	parent.end = start
	// The parent is first in a trace here (count and lookups want the
	// root); the encoder writes the children first.
	return append([]genSpan{parent}, out...)
}

// spanFlags is what the OTel Go SDK's exporter sets: "has is-remote" on,
// "is remote" off (the parent, if any, is local or the span is a root).
const spanFlags = 0x100

func setIDs(sp ptrace.Span, s *genSpan) {
	sp.SetTraceID(s.traceID)
	sp.SetSpanID(s.spanID)
	if s.parent != ([8]byte{}) {
		sp.SetParentSpanID(s.parent)
	}
	sp.SetFlags(spanFlags)
	sp.SetName(s.name)
	sp.SetStartTimestamp(pcommon.Timestamp(s.start))
	sp.SetEndTimestamp(pcommon.Timestamp(s.end))
}

func encodeTelemetrygen(spans []genSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.4.0")
	rs.Resource().Attributes().PutStr("service.name", "telemetrygen")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("telemetrygen")
	out := ss.Spans()
	out.EnsureCapacity(len(spans))
	put := func(s *genSpan) {
		sp := out.AppendEmpty()
		setIDs(sp, s)
		a := sp.Attributes()
		a.EnsureCapacity(2)
		a.PutStr("net.sock.peer.addr", "1.2.3.4")
		if s.kind == kindTGParent {
			sp.SetKind(ptrace.SpanKindClient)
			a.PutStr("peer.service", "telemetrygen-server")
		} else {
			sp.SetKind(ptrace.SpanKindServer)
			a.PutStr("peer.service", "telemetrygen-client")
		}
	}
	for i := 0; i < len(spans); {
		j := i + 1
		for j < len(spans) && spans[j].kind == kindTGChild {
			put(&spans[j])
			j++
		}
		put(&spans[i])
		i = j
	}
	return td
}

// encode groups the spans by service instance, one ResourceSpans each, as
// a collector's batch of several services looks.
func (g *TraceGenerator) encode(spans []genSpan) ptrace.Traces {
	td := ptrace.NewTraces()
	clear(g.resources)
	for i := range spans {
		s := &spans[i]
		key := s.svc*traceInstances + s.instance
		out, ok := g.resources[key]
		if !ok {
			out = newResource(td, s.svc, s.instance)
			g.resources[key] = out
		}
		sp := out.AppendEmpty()
		setIDs(sp, s)
		a := sp.Attributes()
		switch s.kind {
		case kindServer:
			sp.SetKind(ptrace.SpanKindServer)
			a.EnsureCapacity(7)
			a.PutStr("http.request.method", s.route.method)
			a.PutStr("http.route", s.route.path)
			a.PutInt("http.response.status_code", s.status)
			a.PutStr("url.scheme", "http")
			a.PutStr("server.address", traceServices[s.svc].name)
			if s.clientAddr != "" {
				a.PutStr("client.address", s.clientAddr)
				a.PutStr("user_agent.original", s.userAgent)
			}
		case kindHTTPClient:
			sp.SetKind(ptrace.SpanKindClient)
			a.EnsureCapacity(7)
			peer := traceServices[s.peer].name
			a.PutStr("http.request.method", s.route.method)
			a.PutStr("url.full", s.target)
			a.PutStr("server.address", peer)
			a.PutInt("server.port", 8080)
			a.PutInt("http.response.status_code", s.status)
			a.PutStr("net.peer.name", peer)
			a.PutStr("peer.service", peer)
		case kindDBClient:
			sp.SetKind(ptrace.SpanKindClient)
			db := traceServices[s.svc].db
			a.EnsureCapacity(7)
			a.PutStr("db.system", db.system)
			a.PutStr("db.namespace", db.namespace)
			a.PutStr("db.operation.name", s.op.name)
			if s.op.collection != "" {
				a.PutStr("db.collection.name", s.op.collection)
			}
			a.PutStr("db.query.text", s.target)
			a.PutStr("server.address", db.host)
			a.PutInt("server.port", db.port)
			a.PutStr("net.peer.name", db.host)
		case kindInternal:
			sp.SetKind(ptrace.SpanKindInternal)
			a.PutStr("code.function.name", s.internal.function)
			a.PutInt("app.items.count", s.items)
		}
		if s.err {
			sp.Status().SetCode(ptrace.StatusCodeError)
			sp.Status().SetMessage(s.errMsg)
			if s.kind != kindHTTPClient {
				// SDKs record the exception as an event on the span that
				// raised it.
				ev := sp.Events().AppendEmpty()
				ev.SetName("exception")
				ev.SetTimestamp(pcommon.Timestamp(s.end))
				ev.Attributes().PutStr("exception.type", "Error")
				ev.Attributes().PutStr("exception.message", s.errMsg)
			}
		} else if s.kind == kindServer || s.kind == kindHTTPClient {
			// HTTP instrumentation leaves successful spans Unset.
			sp.Status().SetCode(ptrace.StatusCodeUnset)
		}
	}
	return td
}

// newResource appends the ResourceSpans of one service instance and
// returns its span slice.
func newResource(td ptrace.Traces, svc, instance int) ptrace.SpanSlice {
	s := &traceServices[svc]
	rs := td.ResourceSpans().AppendEmpty()
	rs.SetSchemaUrl("https://opentelemetry.io/schemas/1.26.0")
	a := rs.Resource().Attributes()
	a.EnsureCapacity(10)
	pod := fmt.Sprintf("%s-%x-%d", s.name, 0x5f3c9a00+svc*7919, instance)
	a.PutStr("service.name", s.name)
	a.PutStr("service.namespace", "shop")
	a.PutStr("service.version", s.version)
	a.PutStr("service.instance.id", pod)
	a.PutStr("k8s.pod.name", pod)
	a.PutStr("k8s.namespace.name", "shop")
	a.PutStr("host.name", fmt.Sprintf("node-%d", (svc*traceInstances+instance)%7))
	a.PutStr("deployment.environment.name", "production")
	a.PutStr("telemetry.sdk.language", s.language)
	a.PutStr("telemetry.sdk.name", "opentelemetry")
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("shop/" + s.name)
	ss.Scope().SetVersion(s.version)
	return ss.Spans()
}
