package generator

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// connection_type values, Tempo's (servicegraphs/store/edge.go). A plain
// request has none, and so no connection_type label.
const (
	connMessagingSystem = "messaging_system"
	connDatabase        = "database"
	connVirtualNode     = "virtual_node"
)

// virtualClient names the caller of a root server span whose caller is
// unknown (a browser, curl), as Tempo does.
const virtualClient = "user"

// edgeKey pairs the two spans of a request: the client span's ID, which is
// the server span's parent ID, within one trace.
type edgeKey struct {
	traceID pcommon.TraceID
	spanID  pcommon.SpanID
}

// edge is a request of which one span has been seen. Guarded by graphState.mu.
type edge struct {
	key        edgeKey
	prev, next *edge
	expiresAt  int64 // unix ns

	client, server               string
	clientLatency, serverLatency float64
	clientSpanID, serverSpanID   pcommon.SpanID
	connType                     string
	peer                         string // uninstrumented peer named by the span, for virtual nodes
	failed                       bool
	root                         bool // the server span has no parent
}

func (e *edge) complete() bool { return e.client != "" && e.server != "" }

type graphKey struct{ client, server, connType string }

// graphSeries is the service graph series of one (client, server,
// connection_type). Guarded by graphState.mu.
type graphSeries struct {
	isNew       bool
	lastUpdated int64 // ms

	total          float64
	failed         float64
	hasFailed      bool // Tempo creates request_failed_total on the first failure only
	failedNew      bool
	server, client histState

	pairs           []string // label pairs, to make failedL when it is needed
	totalL, failedL labels.Labels
}

// graphState pairs client and server spans into service graph edges.
type graphState struct {
	mu sync.Mutex
	// edges holds the unpaired edges, at most ServiceGraphMaxItems; guarded
	// by mu, as are every other field and the edges and series.
	edges map[edgeKey]*edge
	// head..tail lists the unpaired edges in insertion order, which is also
	// expiry order since every edge waits the same time.
	head, tail *edge
	// free recycles edges: one per client or server span would otherwise be
	// the ingest path's main allocation. Never longer than edges has been.
	free   []*edge
	series map[graphKey]*graphSeries
}

func (s *graphState) pushBack(e *edge) {
	e.prev, e.next = s.tail, nil
	if s.tail != nil {
		s.tail.next = e
	} else {
		s.head = e
	}
	s.tail = e
	s.edges[e.key] = e
}

func (s *graphState) remove(e *edge) {
	if e.prev != nil {
		e.prev.next = e.next
	} else {
		s.head = e.next
	}
	if e.next != nil {
		e.next.prev = e.prev
	} else {
		s.tail = e.prev
	}
	delete(s.edges, e.key)
	s.recycle(e)
}

func (s *graphState) get() *edge {
	if n := len(s.free); n > 0 {
		e := s.free[n-1]
		s.free = s.free[:n-1]
		return e
	}
	return &edge{}
}

func (s *graphState) recycle(e *edge) {
	*e = edge{}
	s.free = append(s.free, e)
}

// edgeSide is what one span tells about its edge.
type edgeSide struct {
	svc      string
	latency  float64
	spanID   pcommon.SpanID
	failed   bool
	connType string
	peer     string
	// dbServer names the database a client span calls; such a request is
	// complete with the client span alone, as databases send no spans.
	dbServer string
}

// peerAttrs are the attributes Tempo's service graphs read to name peers
// that send no spans, taken in one pass over a map.
type peerAttrs struct {
	peerService, dbNamespace, dbName, dbSystem, dbSystemName string
	serverAddress, networkPeerAddress, networkPeerPort       string
}

func (p *peerAttrs) scan(m pcommon.Map) {
	m.Range(func(k string, v pcommon.Value) bool {
		var dst *string
		switch k {
		case "peer.service":
			dst = &p.peerService
		case "db.namespace":
			dst = &p.dbNamespace
		case "db.name":
			dst = &p.dbName
		case "db.system":
			dst = &p.dbSystem
		case "db.system.name":
			dst = &p.dbSystemName
		case "server.address":
			dst = &p.serverAddress
		case "network.peer.address":
			dst = &p.networkPeerAddress
		case "network.peer.port":
			dst = &p.networkPeerPort
		default:
			return true
		}
		if *dst == "" {
			*dst = v.AsString()
		}
		return true
	})
}

func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// peer is the span's peer, from its own attributes: Tempo's default
// peer_attributes, in order.
func (p *peerAttrs) peer() string {
	return first(p.peerService, p.dbName, p.dbSystem, p.dbSystemName)
}

// database names the database a client span calls, or "" if it calls none.
// As in Tempo, db.namespace, db.name, db.system or db.system.name (resource
// first, then span) mark a database call, and the server is named by
// peer.service, server.address, network.peer.address[:port], else the
// database name.
func database(res, span *peerAttrs) string {
	dbName := first(res.dbNamespace, span.dbNamespace, res.dbName, span.dbName,
		res.dbSystem, span.dbSystem, res.dbSystemName, span.dbSystemName)
	if dbName == "" {
		return ""
	}
	if v := first(res.peerService, span.peerService, res.serverAddress, span.serverAddress); v != "" {
		return v
	}
	if host := first(res.networkPeerAddress, span.networkPeerAddress); host != "" {
		if port := first(res.networkPeerPort, span.networkPeerPort); port != "" {
			return host + ":" + port
		}
		return host
	}
	return dbName
}

// observeClient records a CLIENT or PRODUCER span: the caller's side of the
// edge keyed by its own span ID.
func (g *Generator) observeClient(t *tenantState, traceID pcommon.TraceID, side *edgeSide, nowMs, nowNs int64) {
	s := &t.graph
	key := edgeKey{traceID: traceID, spanID: side.spanID}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.edges[key]
	if !found {
		e = s.get()
		e.key = key
	}
	e.connType = side.connType
	e.client = side.svc
	e.clientLatency = side.latency
	e.clientSpanID = side.spanID
	e.failed = e.failed || side.failed
	if side.peer != "" {
		e.peer = side.peer
	}
	if side.dbServer != "" {
		e.connType = connDatabase
		e.server = side.dbServer
		e.serverLatency = side.latency
	}
	g.settle(t, e, found, nowMs, nowNs)
}

// observeServer records a SERVER or CONSUMER span: the callee's side of the
// edge keyed by its parent span ID.
func (g *Generator) observeServer(t *tenantState, traceID pcommon.TraceID, parent pcommon.SpanID, side *edgeSide, nowMs, nowNs int64) {
	s := &t.graph
	key := edgeKey{traceID: traceID, spanID: parent}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, found := s.edges[key]
	if !found {
		e = s.get()
		e.key = key
	}
	e.connType = side.connType
	e.server = side.svc
	e.serverLatency = side.latency
	e.serverSpanID = side.spanID
	e.failed = e.failed || side.failed
	e.root = parent.IsEmpty()
	if side.peer != "" {
		e.peer = side.peer
	}
	g.settle(t, e, found, nowMs, nowNs)
}

// settle records a completed edge, or keeps a new one waiting for its other
// side. Called with graph.mu held.
func (g *Generator) settle(t *tenantState, e *edge, stored bool, nowMs, nowNs int64) {
	s := &t.graph
	switch {
	case e.complete():
		g.record(t, e, nowMs)
		if stored {
			s.remove(e)
		} else {
			s.recycle(e)
		}
	case stored:
	default:
		// Make room from expired edges first: without it a burst of
		// unpaired spans would make a full store drop spans whose pairs are
		// still to come, until the next flush.
		g.expireEdges(t, nowMs, nowNs)
		if len(s.edges) >= g.opts.ServiceGraphMaxItems {
			t.m.edgesDropped.Inc()
			s.recycle(e)
			return
		}
		e.expiresAt = nowNs + int64(g.opts.ServiceGraphWait)
		s.pushBack(e)
	}
}

// expireEdges ends the unpaired edges whose wait is over. Called with
// graph.mu held.
func (g *Generator) expireEdges(t *tenantState, nowMs, nowNs int64) {
	s := &t.graph
	for e := s.head; e != nil && e.expiresAt <= nowNs; e = s.head {
		g.expire(t, e, nowMs)
		s.remove(e)
	}
}

// expire handles an edge whose other span never came. As in Tempo, the
// missing side may be a virtual node, a peer that sends no spans: the caller
// of a root server span ("user", or its peer attribute), or the callee a
// client span names in a peer attribute (an external API). Other edges are
// counted as expired.
func (g *Generator) expire(t *tenantState, e *edge, nowMs int64) {
	switch {
	case e.client == "" && e.root:
		e.client = first(e.peer, virtualClient)
	case e.client != "" && e.server == "" && e.peer != "":
		e.server = e.peer
	default:
		t.m.edgesExpired.Inc()
		return
	}
	e.connType = connVirtualNode
	g.record(t, e, nowMs)
}

// record counts a completed edge into its series. Called with graph.mu held.
func (g *Generator) record(t *tenantState, e *edge, nowMs int64) {
	s := &t.graph
	key := graphKey{client: truncateValue(e.client), server: truncateValue(e.server), connType: e.connType}
	gs := s.series[key]
	if gs == nil {
		gs = g.newGraphSeries(t, key)
		if gs == nil {
			return
		}
		s.series[key] = gs
	}
	if e.failed && !gs.hasFailed {
		if !t.reserve(1, int64(g.opts.MaxSeries)) {
			// The request is still counted below, with an incomplete failure count.
			t.m.seriesDropped.Inc()
		} else {
			gs.hasFailed, gs.failedNew = true, true
			gs.failedL = buildLabels(metricRequestFailedTotal, gs.pairs...)
		}
	}
	gs.lastUpdated = nowMs
	gs.total++
	if e.failed && gs.hasFailed {
		gs.failed++
	}
	gs.server.observe(g.graphServer, e.serverLatency, e.key.traceID, e.serverSpanID)
	gs.client.observe(g.graphClient, e.clientLatency, e.key.traceID, e.clientSpanID)
}

func (g *Generator) newGraphSeries(t *tenantState, key graphKey) *graphSeries {
	if !utf8.ValidString(key.client) || !utf8.ValidString(key.server) {
		t.m.invalidSpans.Inc()
		return nil
	}
	if !t.reserve(g.seriesPerEdgeKey, int64(g.opts.MaxSeries)) {
		t.m.seriesDropped.Inc()
		return nil
	}
	key.client, key.server = strings.Clone(key.client), strings.Clone(key.server)
	pairs := []string{labelClient, key.client, labelServer, key.server, labelConnectionType, key.connType}
	return &graphSeries{
		isNew:  true,
		pairs:  pairs,
		totalL: buildLabels(metricRequestTotal, pairs...),
		server: newHistState(g.graphServer, pairs...),
		client: newHistState(g.graphClient, pairs...),
	}
}

// snapshotGraph expires edges, then appends the values of t's service graph
// series to buf and removes those not updated since staleBefore (ms).
func (g *Generator) snapshotGraph(t *tenantState, buf []sample, nowMs, nowNs, staleBefore int64) []sample {
	s := &t.graph
	s.mu.Lock()
	defer s.mu.Unlock()
	g.expireEdges(t, nowMs, nowNs)
	t.m.unpairedEdges.Set(float64(len(s.edges)))
	// Edges come and go in bursts; let the free list shrink back once the
	// store has emptied rather than hold its peak for ever.
	if len(s.edges) == 0 {
		s.free = nil
	}
	for key, gs := range s.series {
		if gs.lastUpdated < staleBefore {
			n := g.seriesPerEdgeKey
			if gs.hasFailed {
				n++
			}
			t.release(n)
			delete(s.series, key)
			continue
		}
		buf = append(buf, sample{lset: gs.totalL, v: gs.total, isNew: gs.isNew})
		if gs.hasFailed {
			buf = append(buf, sample{lset: gs.failedL, v: gs.failed, isNew: gs.failedNew})
			gs.failedNew = false
		}
		buf = gs.server.snapshot(buf, gs.isNew)
		buf = gs.client.snapshot(buf, gs.isNew)
		gs.isNew = false
	}
	return buf
}

// observeEdge feeds a span of a service with a name into the service graph,
// if its kind makes it one side of a request. res holds the resource's peer
// attributes, scanned once per resource.
func (g *Generator) observeEdge(t *tenantState, svc string, res *peerAttrs, span ptrace.Span, nowMs, nowNs int64) {
	var client bool
	side := edgeSide{svc: svc}
	switch span.Kind() {
	case ptrace.SpanKindProducer:
		side.connType = connMessagingSystem
		client = true
	case ptrace.SpanKindClient:
		client = true
	case ptrace.SpanKindConsumer:
		side.connType = connMessagingSystem
	case ptrace.SpanKindServer:
	default:
		return
	}
	side.spanID = span.SpanID()
	// A client span without an ID (a broken sender) would take the key of
	// the trace's root server span and pair with it.
	if client && side.spanID.IsEmpty() {
		return
	}
	side.latency = durationSeconds(span)
	side.failed = span.Status().Code() == ptrace.StatusCodeError
	var attrs peerAttrs
	attrs.scan(span.Attributes())
	side.peer = attrs.peer()
	if client {
		side.dbServer = database(res, &attrs)
		g.observeClient(t, span.TraceID(), &side, nowMs, nowNs)
		return
	}
	g.observeServer(t, span.TraceID(), span.ParentSpanID(), &side, nowMs, nowNs)
}
