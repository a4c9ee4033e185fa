package generator

import (
	"context"
	"log/slog"
	"math"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/sightline-dev/sightline/storage/tenant"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func openDB(t testing.TB, exemplars bool) *tsdb.DB {
	t.Helper()
	opts := tsdb.DefaultOptions()
	if exemplars {
		opts.EnableExemplarStorage = true
		opts.MaxExemplars = 10000
	}
	db, err := tsdb.Open(t.TempDir(), nil, nil, opts, nil)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, db.Close()) })
	return db
}

// tenantDBs is an Appendable with one TSDB per tenant, as tsdbstore.Store is.
type tenantDBs struct {
	t   testing.TB
	mu  sync.Mutex
	dbs map[string]*tsdb.DB
}

func newTenantDBs(t testing.TB) *tenantDBs {
	return &tenantDBs{t: t, dbs: map[string]*tsdb.DB{}}
}

func (a *tenantDBs) db(id string) *tsdb.DB {
	a.mu.Lock()
	defer a.mu.Unlock()
	db := a.dbs[id]
	if db == nil {
		db = openDB(a.t, true)
		a.dbs[id] = db
	}
	return db
}

func (a *tenantDBs) Appender(ctx context.Context) storage.Appender {
	return a.db(tenant.FromContext(ctx)).Appender(ctx)
}

// dbAppendable writes every tenant into one TSDB.
type dbAppendable struct{ db *tsdb.DB }

func (a dbAppendable) Appender(ctx context.Context) storage.Appender { return a.db.Appender(ctx) }

// fakeClock is a clock tests move by hand; used from the test goroutine only.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }
func (c *fakeClock) ms() int64               { return c.t.UnixMilli() }
func (c *fakeClock) at(d time.Duration) pcommon.Timestamp {
	return pcommon.NewTimestampFromTime(c.t.Add(d))
}

func newGenerator(t testing.TB, app Appendable, mod func(*Options)) (*Generator, *fakeClock) {
	t.Helper()
	opts := DefaultOptions()
	if mod != nil {
		mod(&opts)
	}
	g, err := New(app, opts, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	require.NoError(t, err)
	// Ahead of New's own clock reading, so that flush timestamps are the
	// clock's and not bumped past New's.
	clk := &fakeClock{t: time.Now().Add(time.Second).Truncate(time.Millisecond)}
	g.now = clk.now
	return g, clk
}

// spanSpec describes one span; each gets a resource of its own.
type spanSpec struct {
	service  string // resource service.name; "" leaves it out
	name     string
	kind     ptrace.SpanKind
	status   ptrace.StatusCode
	trace    byte // trace ID 0x..0<trace>
	span     byte // span ID 0x..0<span>
	parent   byte // parent span ID, 0 for none
	start    pcommon.Timestamp
	duration time.Duration
	attrs    map[string]any
}

func traceID(b byte) pcommon.TraceID { return pcommon.TraceID{0xab, 15: b} }
func spanID(b byte) pcommon.SpanID   { return pcommon.SpanID{0xcd, 7: b} }

func traces(t testing.TB, specs ...spanSpec) ptrace.Traces {
	t.Helper()
	td := ptrace.NewTraces()
	for _, s := range specs {
		rs := td.ResourceSpans().AppendEmpty()
		if s.service != "" {
			rs.Resource().Attributes().PutStr("service.name", s.service)
		}
		span := rs.ScopeSpans().AppendEmpty().Spans().AppendEmpty()
		span.SetName(s.name)
		span.SetKind(s.kind)
		span.Status().SetCode(s.status)
		span.SetTraceID(traceID(s.trace))
		if s.span != 0 {
			span.SetSpanID(spanID(s.span))
		}
		if s.parent != 0 {
			span.SetParentSpanID(spanID(s.parent))
		}
		span.SetStartTimestamp(s.start)
		span.SetEndTimestamp(pcommon.Timestamp(int64(s.start) + int64(s.duration)))
		if s.attrs != nil {
			require.NoError(t, span.Attributes().FromRaw(s.attrs))
		}
	}
	return td
}

type point struct {
	t int64
	v float64
}

// seriesPoints returns the samples of every series matching ms, by labels.
func seriesPoints(t testing.TB, db *tsdb.DB, ms ...*labels.Matcher) map[string][]point {
	t.Helper()
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	require.NoError(t, err)
	defer q.Close()
	out := map[string][]point{}
	ss := q.Select(context.Background(), false, nil, ms...)
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		var pts []point
		for it.Next() == chunkenc.ValFloat {
			ts, v := it.At()
			pts = append(pts, point{ts, v})
		}
		require.NoError(t, it.Err())
		out[s.Labels().String()] = pts
	}
	require.NoError(t, ss.Err())
	return out
}

// matchers turns name, value pairs into equality matchers.
func matchers(metric string, pairs ...string) []*labels.Matcher {
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, metric)}
	for i := 0; i+1 < len(pairs); i += 2 {
		ms = append(ms, labels.MustNewMatcher(labels.MatchEqual, pairs[i], pairs[i+1]))
	}
	return ms
}

// value returns the latest value of the one series of metric with the
// given labels (and maybe others).
func value(t testing.TB, db *tsdb.DB, metric string, pairs ...string) float64 {
	t.Helper()
	got := seriesPoints(t, db, matchers(metric, pairs...)...)
	require.Len(t, got, 1, "series of %s %v", metric, pairs)
	for _, pts := range got {
		require.NotEmpty(t, pts)
		return pts[len(pts)-1].v
	}
	panic("unreachable")
}

// labelSets returns the label sets of the series of metric, sorted.
func labelSets(t testing.TB, db *tsdb.DB, metric string, pairs ...string) []string {
	t.Helper()
	var out []string
	for l := range seriesPoints(t, db, matchers(metric, pairs...)...) {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func exemplars(t testing.TB, db *tsdb.DB, metric string, pairs ...string) []exemplar.Exemplar {
	t.Helper()
	eq, err := db.ExemplarQuerier(context.Background())
	require.NoError(t, err)
	res, err := eq.Select(math.MinInt64, math.MaxInt64, matchers(metric, pairs...))
	require.NoError(t, err)
	var out []exemplar.Exemplar
	for _, r := range res {
		out = append(out, r.Exemplars...)
	}
	return out
}
