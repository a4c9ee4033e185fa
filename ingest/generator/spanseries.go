package generator

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/prometheus/prometheus/model/labels"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// numStripes splits a tenant's span series map so that concurrent Consume
// calls for one tenant rarely wait on each other (Prometheus' stripeSeries).
// A power of two so that a mask picks the stripe.
const numStripes = 32

// tenantState is the cumulative state of one tenant.
type tenantState struct {
	id string
	m  tenantMetrics

	// active counts the Prometheus series this tenant generates, to bound
	// them by MaxSeries without a lock across stripes and the graph.
	active atomic.Int64

	stripes [numStripes]spanStripe
	graph   graphState
}

func newTenantState(id string, m tenantMetrics) *tenantState {
	t := &tenantState{id: id, m: m}
	for i := range t.stripes {
		t.stripes[i].series = map[uint64]*spanSeries{}
	}
	t.graph.edges = map[edgeKey]*edge{}
	t.graph.series = map[graphKey]*graphSeries{}
	return t
}

// reserve claims n series under the bound max (0: none) and reports whether
// it could.
func (t *tenantState) reserve(n, max int64) bool {
	if v := t.active.Add(n); max > 0 && v > max {
		t.active.Add(-n)
		return false
	}
	t.m.series.Add(float64(n))
	return true
}

func (t *tenantState) release(n int64) {
	t.active.Add(-n)
	t.m.series.Sub(float64(n))
}

type spanStripe struct {
	mu sync.Mutex
	// series is keyed by a hash of the label values; the few colliding ones
	// chain through spanSeries.next. Guarded by mu, as is every field of
	// every spanSeries in it.
	series map[uint64]*spanSeries
	// Pads a stripe to its own cache lines so that two cores updating
	// neighbouring stripes do not share one.
	_ [40]byte
}

// spanSeries is the span metrics of one (service, span name, kind, status).
type spanSeries struct {
	next *spanSeries

	service, name string
	kind          ptrace.SpanKind
	status        ptrace.StatusCode

	isNew       bool  // not yet appended
	lastUpdated int64 // ms, of the Consume that last touched it

	calls, size float64
	callsEx     exemplarSlot
	latency     histState

	callsL, sizeL labels.Labels
}

func (s *spanSeries) is(service, name string, kind ptrace.SpanKind, status ptrace.StatusCode) bool {
	return s.kind == kind && s.status == status && s.name == name && s.service == service
}

// spanHash is the series key of a span; svcHash is the service's, computed
// once per resource.
func (g *Generator) spanHash(svcHash uint64, name string, kind ptrace.SpanKind, status ptrace.StatusCode) uint64 {
	h := svcHash*0x9E3779B97F4A7C15 ^ maphash.String(g.seed, name)
	return h ^ uint64(kind)<<40 ^ uint64(status)<<48
}

// observeSpan counts one span into its series, creating the series if need be.
func (g *Generator) observeSpan(t *tenantState, svc string, svcHash uint64, span ptrace.Span, size int, nowMs int64) {
	name := truncateValue(span.Name())
	kind := normKind(span.Kind())
	status := normStatus(span.Status().Code())
	lat := durationSeconds(span)
	h := g.spanHash(svcHash, name, kind, status)
	st := &t.stripes[h&(numStripes-1)]

	st.mu.Lock()
	defer st.mu.Unlock()
	var s *spanSeries
	for c := st.series[h]; c != nil; c = c.next {
		if c.is(svc, name, kind, status) {
			s = c
			break
		}
	}
	if s == nil {
		s = g.newSpanSeries(t, svc, name, kind, status)
		if s == nil {
			return
		}
		s.next = st.series[h]
		st.series[h] = s
	}
	s.lastUpdated = nowMs
	s.calls++
	s.size += float64(size)
	s.latency.observe(g.latency, lat, span.TraceID(), span.SpanID())
	s.callsEx = exemplarSlot{traceID: span.TraceID(), spanID: span.SpanID(), value: 1, set: true}
}

// newSpanSeries makes a series, or returns nil, counted, when its labels are
// not valid UTF-8 or the tenant is at its series bound.
func (g *Generator) newSpanSeries(t *tenantState, svc, name string, kind ptrace.SpanKind, status ptrace.StatusCode) *spanSeries {
	// Checked here rather than per span: only a new label set can bring a
	// new invalid value. Tempo drops such spans too.
	if !utf8.ValidString(svc) || !utf8.ValidString(name) {
		t.m.invalidSpans.Inc()
		return nil
	}
	if !t.reserve(g.seriesPerSpanKey, int64(g.opts.MaxSeries)) {
		t.m.seriesDropped.Inc()
		return nil
	}
	// Cloned so that a series, which lives for minutes, does not hold on to
	// whatever memory the request's strings share.
	svc, name = strings.Clone(svc), strings.Clone(name)
	pairs := []string{
		labelService, svc,
		labelSpanName, name,
		labelSpanKind, spanKindValue[kind],
		labelStatusCode, statusCodeValue[status],
	}
	return &spanSeries{
		service: svc,
		name:    name,
		kind:    kind,
		status:  status,
		isNew:   true,
		callsL:  buildLabels(metricCallsTotal, pairs...),
		sizeL:   buildLabels(metricSizeTotal, pairs...),
		latency: newHistState(g.latency, pairs...),
	}
}

// snapshotSpans appends the values of t's span series to buf, and removes the
// series not updated since staleBefore (ms).
func (g *Generator) snapshotSpans(t *tenantState, buf []sample, staleBefore int64) []sample {
	for i := range t.stripes {
		st := &t.stripes[i]
		st.mu.Lock()
		for h, head := range st.series {
			var kept, last *spanSeries
			for s := head; s != nil; {
				next := s.next
				if s.lastUpdated < staleBefore {
					t.release(g.seriesPerSpanKey)
				} else {
					s.next = nil
					if last == nil {
						kept = s
					} else {
						last.next = s
					}
					last = s
					buf = g.snapshotSpanSeries(s, buf)
				}
				s = next
			}
			if kept == nil {
				delete(st.series, h)
			} else if kept != head {
				st.series[h] = kept
			}
		}
		st.mu.Unlock()
	}
	return buf
}

func (g *Generator) snapshotSpanSeries(s *spanSeries, buf []sample) []sample {
	buf = append(buf,
		sample{lset: s.callsL, v: s.calls, isNew: s.isNew, ex: s.callsEx},
		sample{lset: s.sizeL, v: s.size, isNew: s.isNew},
	)
	buf = s.latency.snapshot(buf, s.isNew)
	s.callsEx = exemplarSlot{}
	s.isNew = false
	return buf
}
