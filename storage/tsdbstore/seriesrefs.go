package tsdbstore

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/metadata"
	"github.com/prometheus/prometheus/storage"
	"golang.org/x/sys/cpu"
)

// SeriesRefs remembers, for one tenant's TSDB, the head reference and the
// metadata of the series an ingest path appended to, by the hash of their
// labels, across requests: what Prometheus' scrape cache does for a scrape
// target. An appender given a series' reference skips the head's lookup by
// labels (and its checks of the label set), and metadata is handed to the
// head only when it changed.
//
// A reference is valid as long as the TSDB instance that gave it is open:
// the head never gives a reference to another series, and a series it has
// dropped (no samples left in the head) is created again from the labels,
// under a new reference. So the cache belongs to one TSDB instance, and a
// reopen starts a new one.
//
// The cache is bounded by time: it keeps two generations, and an entry not
// used for a whole generation (refsGeneration) is dropped with the older
// one, as VictoriaMetrics' workingsetcache does. A tenant's churn therefore
// leaves in it only the series seen in the last two generations.
type SeriesRefs struct {
	shards   [refShards]refShard
	gen      atomic.Uint64 // the current generation, advanced by Tick
	start    time.Time     // when generation 0 began
	requests atomic.Uint64 // the last Request number given
}

// SeriesEntry is what the cache holds about a series.
type SeriesEntry struct {
	Ref    storage.SeriesRef
	Labels labels.Labels
	Meta   *SeriesMeta // nil for none
}

// SeriesMeta is a series' metadata and the metric family it describes
// (OTLP's metadata API), if known. It is never changed once made, so that
// the series of a family share one (ShareMeta): held by value, metadata
// was 15% of the OTLP benchmark's live heap.
type SeriesMeta struct {
	metadata.Metadata
	Family string
}

// ShareMeta returns have if it says md and family, else a new SeriesMeta
// that does; nil for none.
func ShareMeta(have *SeriesMeta, md metadata.Metadata, family string) *SeriesMeta {
	if have != nil && have.Metadata == md && have.Family == family {
		return have
	}
	if md == (metadata.Metadata{}) && family == "" {
		return nil
	}
	return &SeriesMeta{Metadata: md, Family: family}
}

// Data returns m's metadata and family; none for nil.
func (m *SeriesMeta) Data() (metadata.Metadata, string) {
	if m == nil {
		return metadata.Metadata{}, ""
	}
	return m.Metadata, m.Family
}

// ID names a series by what an ingest path made it from rather than by its
// labels: OTLP names a data point's series by its resource, scope, metric
// and attributes, so that a known one costs no translation, and
// remote_write a series by its label messages as they arrived, so that a
// known one has no label decoded. It is 128 bits
// of hash, which no two inputs share in practice (a 64-bit hash would, once
// in some 10^9 lifetimes of a million series); the first half is the
// cache's key, and an entry put by labels hash has no ID.
type ID [2]uint64

// Mark is the last float sample a request put on a series. The head checks
// a sample against the series' committed samples only, so two samples of
// one series at the same millisecond in one request (OTLP's nanoseconds
// collapse into the TSDB's milliseconds) would both pass and the second be
// dropped at commit without a word; the mark lets the caller see them.
type Mark struct {
	Request uint64 // from SeriesRefs.Request; 0 for no mark
	T       int64
	V       float64
}

// refShards spreads the ingest paths' concurrent requests over locks.
const refShards = 64

// refsGeneration is how long an unused entry stays at least; one export or
// scrape interval is much shorter, so an active series is always found.
const refsGeneration = 10 * time.Minute

type refShard struct {
	mu        sync.Mutex
	gen       uint64               // the generation cur belongs to
	cur, prev map[uint64]*refEntry // by labels hash, or by ID's first half
	// A cache line between shards: their locks are taken for every
	// sample by requests on every core.
	_ cpu.CacheLinePad
}

// refEntry is held by pointer. Held in the map's slots, which it made four
// times larger, a lookup was slower: SeriesRefs.Entry went from 23% to 30%
// of the benchmark's remote_write ingest CPU, a lookup being a few misses
// of the CPU's caches.
//
// A group of one series or none (OTLP's counters and gauges, a resource
// without target_info: most groups) is held in its entry, with one as its
// series: a group of its own, with its slice of members, took 112 bytes
// more a series, 6 MB of the OTLP benchmark's live heap.
type refEntry struct {
	// one is the entry's series: put by labels hash or by PutEntry, or
	// the one series of a group of one.
	one [1]member
	// group is nil for an entry of one series; for a group put by
	// PutGroup, groupOfOne, groupOfNone or the group.
	group *group
	id1   uint64 // the second half of the ID of a group or PutEntry (its first is key); 0 for one by labels hash
	key   uint64 // the map's key
	// gen is the generation of the map that holds the entry, noGen once
	// another entry took its key or it was forgotten: a Cursor takes it
	// only while it is in the current generation's map.
	gen atomic.Uint64
	// next is the entry a Cursor looked up after this one.
	next atomic.Pointer[refEntry]
}

const noGen = math.MaxUint64

// Cursor follows one request's lookups (Entry, GetGroup). Senders send
// their series in much the same order every time, so the entry looked up
// after an entry last time is likely the one looked up after it now: the
// cursor finds it without the map and (for Entry) its shard's lock. A
// lookup in the map is a few misses of the CPU's caches, and the shard's
// lock a cache line that every core writes; they were 23–29% of
// remote_write ingest's CPU. The zero Cursor is ready; a Cursor is not
// safe for concurrent use.
type Cursor struct{ last *refEntry }

// after returns the entry the last lookup was followed by last time, if
// it is key's and still in generation gen.
func (cur *Cursor) after(key, gen uint64) *refEntry {
	if cur == nil || cur.last == nil {
		return nil
	}
	e := cur.last.next.Load()
	if e == nil || e.key != key || e.gen.Load() != gen {
		return nil
	}
	return e
}

// follow records e, this lookup's entry (nil for none), as what the last
// lookup is followed by.
func (cur *Cursor) follow(e *refEntry) {
	if cur == nil {
		return
	}
	if cur.last != nil && e != nil && cur.last.next.Load() != e {
		cur.last.next.Store(e)
	}
	cur.last = e
}

// group is the series of an ID, in order: what OTLP makes of one data
// point (a histogram's _sum, _count and buckets), found with one lookup.
type group struct {
	members []member
}

// groupOfOne and groupOfNone mark an entry that holds a group of one
// series (in refEntry.one) or of none.
var groupOfOne, groupOfNone = &group{}, &group{}

type member struct {
	SeriesEntry
	mark Mark
}

func newSeriesRefs(now time.Time) *SeriesRefs {
	return &SeriesRefs{start: now}
}

// Tick advances the generation from the clock; called once per request,
// so lookups read no clock.
func (c *SeriesRefs) Tick(now time.Time) {
	if c == nil {
		return
	}
	if g := uint64(max(now.Sub(c.start), 0) / refsGeneration); g > c.gen.Load() {
		c.gen.Store(g)
	}
}

// shard returns the shard of hash, locked and rotated to the current
// generation.
func (c *SeriesRefs) shard(hash uint64) *refShard {
	s := &c.shards[hash%refShards]
	s.mu.Lock()
	if g := c.gen.Load(); g != s.gen {
		if g == s.gen+1 {
			s.prev = s.cur
		} else {
			s.prev = nil // more than a generation without any use
		}
		s.cur, s.gen = nil, g
	}
	return s
}

// Request returns a number for one request's marks, never 0.
func (c *SeriesRefs) Request() uint64 {
	if c == nil {
		return 0
	}
	return c.requests.Add(1)
}

// Get returns the entry of the series with labels ls and hash
// ls.Hash(), if the cache has it, and the mark it had; a mark with a
// Request sets the series' mark.
func (c *SeriesRefs) Get(hash uint64, ls labels.Labels, mark Mark) (SeriesEntry, Mark, bool) {
	if c == nil {
		return SeriesEntry{}, Mark{}, false
	}
	s := c.shard(hash)
	defer s.mu.Unlock()
	e := s.get(hash)
	// Another series with the same hash is a miss; the head tells
	// colliding series apart by their labels.
	if e == nil || e.group != nil || !labels.Equal(e.one[0].Labels, ls) {
		return SeriesEntry{}, Mark{}, false
	}
	m := &e.one[0]
	prev := m.mark
	if mark.Request != 0 {
		m.mark = mark
	}
	return m.SeriesEntry, prev, true
}

// Entry returns the series PutEntry put under id, for a caller that
// names its series its own way: remote_write by its label messages as
// they arrived, so that a known series has no labels decoded or compared.
// cur, if not nil, follows the lookups of one request.
func (c *SeriesRefs) Entry(cur *Cursor, id ID) (SeriesEntry, bool) {
	if c == nil {
		return SeriesEntry{}, false
	}
	// Such an entry does not change once it is in the map (SetMember
	// changes groups only), so the cursor's may be read without the lock.
	e := cur.after(id[0], c.gen.Load())
	if e == nil {
		s := c.shard(id[0])
		e = s.get(id[0])
		s.mu.Unlock()
	}
	cur.follow(e)
	if e != nil && e.group == nil && e.id1 == id[1] {
		return e.one[0].SeriesEntry, true
	}
	return SeriesEntry{}, false
}

// PutEntry records e as the series named id (never the zero ID).
func (c *SeriesRefs) PutEntry(id ID, e SeriesEntry) {
	if c == nil {
		return
	}
	s := c.shard(id[0])
	s.put(id[0], &refEntry{one: [1]member{{SeriesEntry: e}}, id1: id[1]})
	s.mu.Unlock()
}

// GetGroup is Get for the series of a group put by PutGroup: it appends
// their entries to entries and their marks to prev, and sets their marks
// to marks, one per series; false if there is no such group of as many
// series. cur, if not nil, follows the lookups of one request; the marks
// are set under the shard's lock all the same.
func (c *SeriesRefs) GetGroup(cur *Cursor, id ID, marks []Mark, entries []SeriesEntry, prev []Mark) ([]SeriesEntry, []Mark, bool) {
	if c == nil {
		return entries, prev, false
	}
	e := cur.after(id[0], c.gen.Load())
	s := c.shard(id[0])
	defer s.mu.Unlock()
	if e == nil || e.gen.Load() != s.gen { // none, or replaced since
		e = s.get(id[0])
	}
	cur.follow(e)
	members, ok := e.members(id)
	if !ok || len(members) != len(marks) {
		return entries, prev, false
	}
	for i := range members {
		m := &members[i]
		entries, prev = append(entries, m.SeriesEntry), append(prev, m.mark)
		if marks[i].Request != 0 {
			m.mark = marks[i]
		}
	}
	return entries, prev, true
}

// PutGroup records entries as the series of the group named id (never the
// zero ID), without marks.
func (c *SeriesRefs) PutGroup(id ID, entries []SeriesEntry) {
	if c == nil {
		return
	}
	e := &refEntry{id1: id[1]}
	switch len(entries) {
	case 0:
		e.group = groupOfNone
	case 1:
		e.group, e.one[0].SeriesEntry = groupOfOne, entries[0]
	default:
		g := make([]member, len(entries))
		for i, e := range entries {
			g[i].SeriesEntry = e
		}
		e.group = &group{members: g}
	}
	s := c.shard(id[0])
	s.put(id[0], e)
	s.mu.Unlock()
}

// SetMember records e, with mark, as series i of the group named id, if
// the cache still has it.
func (c *SeriesRefs) SetMember(id ID, i int, e SeriesEntry, mark Mark) {
	if c == nil {
		return
	}
	s := c.shard(id[0])
	defer s.mu.Unlock()
	if members, _ := s.get(id[0]).members(id); i < len(members) {
		members[i] = member{SeriesEntry: e, mark: mark}
	}
}

// Forget drops the entry that Put recorded for the series ls under hash,
// if there is one: a series that a group holds (SetMember) needs no
// second entry, which would otherwise stay for a generation or two (a
// quarter of what the OTLP ingest of 100k series holds at its end).
func (c *SeriesRefs) Forget(hash uint64, ls labels.Labels) {
	if c == nil {
		return
	}
	s := c.shard(hash)
	defer s.mu.Unlock()
	for _, m := range [2]map[uint64]*refEntry{s.cur, s.prev} {
		if e := m[hash]; e != nil && e.group == nil && labels.Equal(e.one[0].Labels, ls) {
			delete(m, hash)
			e.gen.Store(noGen)
		}
	}
}

// Put records e under hash, the hash of e.Labels, with mark.
func (c *SeriesRefs) Put(hash uint64, e SeriesEntry, mark Mark) {
	if c == nil {
		return
	}
	s := c.shard(hash)
	s.put(hash, &refEntry{one: [1]member{{SeriesEntry: e, mark: mark}}})
	s.mu.Unlock()
}

// get returns the entry under hash, or nil; an entry of the previous
// generation is used, so it moves to this one.
func (s *refShard) get(hash uint64) *refEntry {
	if e, ok := s.cur[hash]; ok {
		return e
	}
	e, ok := s.prev[hash]
	if ok {
		s.put(hash, e)
	}
	return e
}

// members returns the series of e's group, in order, if e holds the group
// named id; they may be changed under the shard's lock.
func (e *refEntry) members(id ID) ([]member, bool) {
	if e == nil || e.group == nil || e.key != id[0] || e.id1 != id[1] {
		return nil, false
	}
	switch e.group {
	case groupOfOne:
		return e.one[:], true
	case groupOfNone:
		return nil, true
	}
	return e.group.members, true
}

func (s *refShard) put(hash uint64, e *refEntry) {
	if s.cur == nil {
		s.cur = make(map[uint64]*refEntry, len(s.prev))
	}
	if old := s.cur[hash]; old != nil && old != e {
		old.gen.Store(noGen)
	}
	if e.key != hash {
		e.key = hash // a new entry: no cursor has it yet
	}
	e.gen.Store(s.gen)
	s.cur[hash] = e
}

// Len is the number of entries of both generations, for tests and the
// cache's size metric.
func (c *SeriesRefs) Len() int {
	n := 0
	for i := range c.shards {
		s := c.shard(uint64(i))
		for h := range s.prev {
			if _, dup := s.cur[h]; !dup {
				n++
			}
		}
		n += len(s.cur)
		s.mu.Unlock()
	}
	return n
}
