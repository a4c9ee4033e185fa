package tsdbstore

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/sightline-dev/sightline/storage/tenant"
)

func TestSeriesRefsGenerations(t *testing.T) {
	start := time.Now()
	c := newSeriesRefs(start)
	a, b := labels.FromStrings("__name__", "a"), labels.FromStrings("__name__", "b")
	c.Put(a.Hash(), SeriesEntry{Ref: 1, Labels: a}, Mark{})
	c.Put(b.Hash(), SeriesEntry{Ref: 2, Labels: b}, Mark{})
	e, _, ok := c.Get(a.Hash(), a, Mark{})
	require.True(t, ok)
	require.Equal(t, storage.SeriesRef(1), e.Ref)

	// Another series under the same hash is a miss, not its reference.
	_, _, ok = c.Get(a.Hash(), b, Mark{})
	require.False(t, ok)

	// One generation later both are still there; a is used in it.
	c.Tick(start.Add(refsGeneration))
	_, _, ok = c.Get(a.Hash(), a, Mark{})
	require.True(t, ok)
	require.Equal(t, 2, c.Len())

	// b, unused for a whole generation, is gone with the older one.
	c.Tick(start.Add(2 * refsGeneration))
	_, _, ok = c.Get(b.Hash(), b, Mark{})
	require.False(t, ok)
	_, _, ok = c.Get(a.Hash(), a, Mark{})
	require.True(t, ok)

	// Idle for longer than a generation: everything is gone.
	c.Tick(start.Add(5 * refsGeneration))
	_, _, ok = c.Get(a.Hash(), a, Mark{})
	require.False(t, ok)
	require.Zero(t, c.Len())

	// A request's mark is kept and handed back to the next lookup; a
	// lookup without a mark leaves it.
	req := c.Request()
	require.NotZero(t, req)
	c.Put(a.Hash(), SeriesEntry{Ref: 1, Labels: a}, Mark{Request: req, T: 10, V: 1})
	_, prev, _ := c.Get(a.Hash(), a, Mark{})
	require.Equal(t, Mark{Request: req, T: 10, V: 1}, prev)
	_, prev, _ = c.Get(a.Hash(), a, Mark{Request: req, T: 10, V: 2})
	require.Equal(t, Mark{Request: req, T: 10, V: 1}, prev)
	_, prev, _ = c.Get(a.Hash(), a, Mark{})
	require.Equal(t, Mark{Request: req, T: 10, V: 2}, prev)
	require.NotEqual(t, req, c.Request())

	// A nil cache (a tenant the store refused) finds nothing and keeps
	// nothing.
	var none *SeriesRefs
	none.Tick(start)
	none.Put(a.Hash(), SeriesEntry{Ref: 1, Labels: a}, Mark{})
	_, _, ok = none.Get(a.Hash(), a, Mark{})
	require.False(t, ok)
}

// A tenant whose series churn (each generation brings new ones and the old
// ones stop) keeps the cache at two generations' series, however long it
// runs.
func TestSeriesRefsBoundedUnderChurn(t *testing.T) {
	start := time.Now()
	c := newSeriesRefs(start)
	const perGen = 500
	for g := range 50 {
		c.Tick(start.Add(time.Duration(g) * refsGeneration))
		for i := range perGen {
			ls := labels.FromStrings("__name__", "m", "instance", fmt.Sprint(g*perGen+i))
			c.Put(ls.Hash(), SeriesEntry{Ref: storage.SeriesRef(g*perGen + i + 1), Labels: ls}, Mark{})
		}
		require.LessOrEqual(t, c.Len(), 2*perGen, "generation %d", g)
	}
}

// TestSeriesRefsSizeMetric: each tenant's cache size is a gauge of its
// own, and a reopened TSDB's cache, new and empty, takes the gauge over.
func TestSeriesRefsSizeMetric(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler), reg, DefaultOptions())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	refsOf := func(id string) *SeriesRefs {
		app := s.Appender(tenant.With(context.Background(), id))
		defer func() { require.NoError(t, app.Rollback()) }()
		return app.(*countingAppender).SeriesRefs()
	}
	putSeries(refsOf("a"), 3)
	putSeries(refsOf("b"), 1)
	entries := func() map[string]float64 {
		const name = "sightline_metrics_series_cache_entries"
		return map[string]float64{"a": tenantGauge(t, reg, name, "a"), "b": tenantGauge(t, reg, name, "b")}
	}
	require.Equal(t, map[string]float64{"a": 3, "b": 1}, entries())

	ta, err := s.tenant("a")
	require.NoError(t, err)
	require.NoError(t, s.reopenOnce("a", ta))
	require.Equal(t, map[string]float64{"a": 0, "b": 1}, entries())
}

// The cache belongs to one TSDB instance: a reopen, which forgets the
// series that never reached the WAL, starts a new one.
func TestReopenForgetsSeriesRefs(t *testing.T) {
	s := open(t, t.TempDir())
	ctx := tenant.With(context.Background(), "a")
	refsOf := func() *SeriesRefs {
		app := s.Appender(ctx)
		defer func() { require.NoError(t, app.Rollback()) }()
		return app.(*countingAppender).SeriesRefs()
	}
	ls := labels.FromStrings("__name__", "m")
	before := refsOf()
	before.Put(ls.Hash(), SeriesEntry{Ref: 1, Labels: ls}, Mark{})
	require.Same(t, before, refsOf(), "one cache for the appenders of one TSDB")

	t0, err := s.tenant("a")
	require.NoError(t, err)
	require.NoError(t, s.reopenOnce("a", t0))
	after := refsOf()
	require.NotSame(t, before, after)
	require.Zero(t, after.Len())
}

// TestSeriesRefsGroups: a group of series is found under its ID with as
// many marks as it has series, keeps their marks, takes a member's new
// reference, and leaves with its generation like any entry.
func TestSeriesRefsGroups(t *testing.T) {
	start := time.Now()
	c := newSeriesRefs(start)
	a, b := labels.FromStrings("__name__", "h_sum"), labels.FromStrings("__name__", "h_count")
	id := ID{1, 2}
	c.PutGroup(id, []SeriesEntry{{Ref: 1, Labels: a}, {Ref: 2, Labels: b}})

	req := c.Request()
	marks := []Mark{{Request: req, T: 10, V: 1}, {Request: req, T: 10, V: 2}}
	es, prev, ok := c.GetGroup(nil, id, marks, nil, nil)
	require.True(t, ok)
	require.Equal(t, []SeriesEntry{{Ref: 1, Labels: a}, {Ref: 2, Labels: b}}, es)
	require.Equal(t, []Mark{{}, {}}, prev)
	_, prev, ok = c.GetGroup(nil, id, make([]Mark, 2), nil, nil)
	require.True(t, ok)
	require.Equal(t, marks, prev)

	_, _, ok = c.GetGroup(nil, id, make([]Mark, 3), nil, nil)
	require.False(t, ok, "a data point with another number of series is another group")
	_, _, ok = c.GetGroup(nil, ID{1, 3}, make([]Mark, 2), nil, nil)
	require.False(t, ok, "same key, other ID")
	_, _, ok = c.Get(1, a, Mark{})
	require.False(t, ok, "a group is not a series of that hash")
	_, _, ok = c.Get(1, labels.EmptyLabels(), Mark{})
	require.False(t, ok, "not even of no labels")
	_, ok = c.Entry(nil, id)
	require.False(t, ok, "nor a series of remote_write's")

	c.SetMember(id, 1, SeriesEntry{Ref: 7, Labels: b}, Mark{})
	es, _, _ = c.GetGroup(nil, id, make([]Mark, 2), nil, nil)
	require.Equal(t, storage.SeriesRef(7), es[1].Ref)

	// Forget drops a series put by its labels, not another of its hash,
	// nor a group.
	c.Put(b.Hash(), SeriesEntry{Ref: 7, Labels: b}, Mark{})
	c.Forget(b.Hash(), a)
	_, _, ok = c.Get(b.Hash(), b, Mark{})
	require.True(t, ok, "other labels of the same hash")
	c.Forget(b.Hash(), b)
	_, _, ok = c.Get(b.Hash(), b, Mark{})
	require.False(t, ok)
	c.Forget(id[0], labels.EmptyLabels())
	_, _, ok = c.GetGroup(nil, id, make([]Mark, 2), nil, nil)
	require.True(t, ok, "a group is not forgotten by labels")

	c.Tick(start.Add(3 * refsGeneration))
	_, _, ok = c.GetGroup(nil, id, make([]Mark, 2), nil, nil)
	require.False(t, ok)
	require.Zero(t, c.Len())
}

// Groups of one series and of none, held in their entry, behave as
// others do, and cost one allocation.
func TestSeriesRefsSmallGroups(t *testing.T) {
	c := newSeriesRefs(time.Now())
	a := labels.FromStrings("__name__", "requests_total")
	one, none := ID{5, 6}, ID{7, 8}
	c.PutGroup(one, []SeriesEntry{{Ref: 1, Labels: a}})
	c.PutGroup(none, nil)

	req := c.Request()
	es, prev, ok := c.GetGroup(nil, one, []Mark{{Request: req, T: 10, V: 1}}, nil, nil)
	require.True(t, ok)
	require.Equal(t, []SeriesEntry{{Ref: 1, Labels: a}}, es)
	require.Equal(t, []Mark{{}}, prev)
	_, prev, _ = c.GetGroup(nil, one, make([]Mark, 1), nil, nil)
	require.Equal(t, []Mark{{Request: req, T: 10, V: 1}}, prev)
	es, _, ok = c.GetGroup(nil, none, nil, nil, nil)
	require.True(t, ok)
	require.Empty(t, es)

	_, _, ok = c.GetGroup(nil, one, nil, nil, nil)
	require.False(t, ok, "a group of one is not a group of none")
	_, _, ok = c.GetGroup(nil, none, make([]Mark, 1), nil, nil)
	require.False(t, ok, "nor the other way round")
	_, _, ok = c.GetGroup(nil, ID{5, 7}, make([]Mark, 1), nil, nil)
	require.False(t, ok, "same key, other ID")
	_, ok = c.Entry(nil, one)
	require.False(t, ok, "a group of one is not a series of remote_write's")
	_, _, ok = c.Get(one[0], a, Mark{})
	require.False(t, ok)

	c.SetMember(one, 0, SeriesEntry{Ref: 9, Labels: a}, Mark{})
	c.SetMember(none, 0, SeriesEntry{Ref: 9, Labels: a}, Mark{}) // no such member: nothing
	es, _, _ = c.GetGroup(nil, one, make([]Mark, 1), nil, nil)
	require.Equal(t, storage.SeriesRef(9), es[0].Ref)
	es, _, _ = c.GetGroup(nil, none, nil, nil, nil)
	require.Empty(t, es)

	entry := []SeriesEntry{{Ref: 1, Labels: a}}
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { c.PutGroup(one, entry) }), "a group of one")
	require.Equal(t, 1.0, testing.AllocsPerRun(100, func() { c.PutGroup(none, nil) }), "a group of none")
}

// TestSeriesRefsEntriesStaySmall: the cache holds an entry for every
// active series of every tenant, so what an entry holds by value is
// memory per series; metadata is held once per metric family, shared.
func TestSeriesRefsEntriesStaySmall(t *testing.T) {
	require.LessOrEqual(t, unsafe.Sizeof(refEntry{}), uintptr(96), "an entry by labels hash, with its key and successor")
	require.LessOrEqual(t, unsafe.Sizeof(member{}), uintptr(56), "a series of a group")

	md := metadata.Metadata{Type: model.MetricTypeCounter, Unit: "seconds", Help: "Work done."}
	m := ShareMeta(nil, md, "work_seconds_total")
	require.Same(t, m, ShareMeta(m, md, "work_seconds_total"))
	other := ShareMeta(m, md, "work_total")
	require.NotSame(t, m, other)
	got, family := other.Data()
	require.Equal(t, md, got)
	require.Equal(t, "work_total", family)
	require.Nil(t, ShareMeta(m, metadata.Metadata{}, ""), "no metadata takes no memory")
	got, family = (*SeriesMeta)(nil).Data()
	require.Zero(t, got)
	require.Empty(t, family)
}

// TestSeriesRefsCursor: a request's lookups in the order of the last
// request find the same entries as the map, through the entries'
// successors, and never one that another has replaced, that was
// forgotten, or that the generations have dropped.
func TestSeriesRefsCursor(t *testing.T) {
	start := time.Now()
	c := newSeriesRefs(start)
	ls := putSeries(c, 5)
	request := func() []storage.SeriesRef {
		var cur Cursor
		var refs []storage.SeriesRef
		for _, l := range ls {
			e, ok := c.Entry(&cur, idOf(l))
			if !ok {
				refs = append(refs, 0)
				continue
			}
			require.Equal(t, l, e.Labels)
			refs = append(refs, e.Ref)
		}
		return refs
	}
	require.Equal(t, []storage.SeriesRef{1, 2, 3, 4, 5}, request())
	s := &c.shards[ls[0].Hash()%refShards]
	require.Same(t, s.cur[ls[0].Hash()].next.Load(), c.shards[ls[1].Hash()%refShards].cur[ls[1].Hash()],
		"the first lookup is followed by the second")
	require.Equal(t, []storage.SeriesRef{1, 2, 3, 4, 5}, request())

	// A series created again under a new reference, and one forgotten.
	c.PutEntry(idOf(ls[2]), SeriesEntry{Ref: 33, Labels: ls[2]})
	c.Forget(ls[3].Hash(), ls[3])
	require.Equal(t, []storage.SeriesRef{1, 2, 33, 0, 5}, request())
	require.Equal(t, []storage.SeriesRef{1, 2, 33, 0, 5}, request())

	// A generation later the entries move to the new one as they are
	// used, so they are there a generation after; two without use, they
	// are gone, successors or not.
	c.Tick(start.Add(refsGeneration))
	require.Equal(t, []storage.SeriesRef{1, 2, 33, 0, 5}, request())
	c.Tick(start.Add(2 * refsGeneration))
	require.Equal(t, []storage.SeriesRef{1, 2, 33, 0, 5}, request())
	require.Equal(t, 4, c.Len())
	c.Tick(start.Add(4 * refsGeneration))
	require.Equal(t, []storage.SeriesRef{0, 0, 0, 0, 0}, request())
}

// TestSeriesRefsCursorGroups: as TestSeriesRefsCursor, for OTLP's groups,
// whose marks the cursor's lookups set too.
func TestSeriesRefsCursorGroups(t *testing.T) {
	c := newSeriesRefs(time.Now())
	ids := []ID{{1, 1}, {2, 2}, {3, 3}}
	for i, id := range ids {
		c.PutGroup(id, []SeriesEntry{{Ref: storage.SeriesRef(i + 1)}})
	}
	req := c.Request()
	request := func() (refs []storage.SeriesRef, marks []Mark) {
		var cur Cursor
		for i, id := range ids {
			es, prev, ok := c.GetGroup(&cur, id, []Mark{{Request: req, T: int64(i)}}, nil, nil)
			if !ok {
				refs, marks = append(refs, 0), append(marks, Mark{})
				continue
			}
			refs, marks = append(refs, es[0].Ref), append(marks, prev[0])
		}
		return refs, marks
	}
	refs, _ := request()
	require.Equal(t, []storage.SeriesRef{1, 2, 3}, refs)
	require.Same(t, c.shards[1].cur[1].next.Load(), c.shards[2].cur[2], "the first lookup is followed by the second")
	refs, marks := request()
	require.Equal(t, []storage.SeriesRef{1, 2, 3}, refs)
	require.Equal(t, []Mark{{Request: req, T: 0}, {Request: req, T: 1}, {Request: req, T: 2}}, marks, "the marks the last request set")

	// A group put again, and another group under the same key.
	c.PutGroup(ids[1], []SeriesEntry{{Ref: 22}})
	c.PutGroup(ID{3, 4}, []SeriesEntry{{Ref: 34}})
	refs, _ = request()
	require.Equal(t, []storage.SeriesRef{1, 22, 0}, refs)
}

// TestSeriesRefsCursorsRace: requests on every core follow their cursors
// while others put new references and the generations turn; each lookup
// finds its own series (go test -race checks the rest).
func TestSeriesRefsCursorsRace(t *testing.T) {
	start := time.Now()
	c := newSeriesRefs(start)
	ls := putSeries(c, 200)
	var g errgroup.Group
	for w := range 4 {
		g.Go(func() error {
			for r := range 200 {
				var cur Cursor
				for i, l := range ls {
					if e, ok := c.Entry(&cur, idOf(l)); ok && !labels.Equal(e.Labels, l) {
						return fmt.Errorf("series %d found %s", i, e.Labels)
					}
					if w == 0 && i%7 == r%7 {
						c.PutEntry(idOf(l), SeriesEntry{Ref: storage.SeriesRef(1000*r + i), Labels: l})
					}
				}
				if w == 1 && r%50 == 0 {
					c.Tick(start.Add(time.Duration(r/50) * refsGeneration))
				}
			}
			return nil
		})
	}
	require.NoError(t, g.Wait())
}

// putSeries puts n series into c with PutEntry, series i under reference
// i+1 and ID idOf.
func putSeries(c *SeriesRefs, n int) []labels.Labels {
	ls := make([]labels.Labels, n)
	for i := range ls {
		ls[i] = labels.FromStrings("__name__", "m", "i", fmt.Sprint(i))
		c.PutEntry(idOf(ls[i]), SeriesEntry{Ref: storage.SeriesRef(i + 1), Labels: ls[i]})
	}
	return ls
}

// idOf is an ID for the series ls in tests: its first half is ls.Hash(),
// so that Forget finds it.
func idOf(ls labels.Labels) ID { return ID{ls.Hash(), 1} }

// TestSeriesRefsEntry: a series put under an ID is found under that ID
// only, not by another of the same key nor by its labels' hash, and a
// series put by labels hash is not found as one put under an ID.
func TestSeriesRefsEntry(t *testing.T) {
	c := newSeriesRefs(time.Now())
	a := labels.FromStrings("__name__", "up")
	c.PutEntry(ID{9, 1}, SeriesEntry{Ref: 1, Labels: a})
	e, ok := c.Entry(nil, ID{9, 1})
	require.True(t, ok)
	require.Equal(t, SeriesEntry{Ref: 1, Labels: a}, e)
	_, ok = c.Entry(nil, ID{9, 2})
	require.False(t, ok, "same key, other ID")
	_, _, ok = c.GetGroup(nil, ID{9, 1}, make([]Mark, 1), nil, nil)
	require.False(t, ok, "a series is not a group of one")

	c.Put(a.Hash(), SeriesEntry{Ref: 2, Labels: a}, Mark{})
	_, ok = c.Entry(nil, ID{a.Hash(), 1})
	require.False(t, ok, "a series put by labels hash has no ID")
	require.Equal(t, 2, c.Len())
}
