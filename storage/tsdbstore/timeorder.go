package tsdbstore

import (
	"context"
	"math"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/sightline-dev/sightline/storage/colblock"
)

// A query over a long range reads a series from every block it spans: a
// week at 10% of a week's retention is about ten blocks, and the TSDB's
// own Querier merges their iterators with storage.ChainedSeriesMerge, a
// heap that every Seek rebuilds from all of them (a third of the CPU of a
// week-long rate() in the profile). Blocks that do not overlap are in time
// order already, so querierInTimeOrder reads them one after the other
// instead, and leaves only the newest part (the head, and blocks that
// overlap it or each other) to the TSDB's Querier. Within fetch limits the
// TSDB's ChunkQuerier was worse still: it chained every chunk of a series
// through the heap, after re-encoding columnar chunks as XOR ones; now it
// reads only that newest part (Store.queryParts).

// One block and the head are read in time order too. They once went to
// the TSDB's Querier, whose heap cost little with one block; but the
// heap hands samples over one at a time, and read in order the block's
// columnar chunks hand theirs over a run at a time (colblock.FloatRuns,
// through concatIterator) to the query's direct evaluation (package
// shard). On the data a standard benchmark run kept (slbench -targets
// sightline-rw -keep: 100k series, one block and the head), the server
// spent 18% less CPU on a day-long sum by (job) (rate(...)) (360 against
// 437 ms a query, four alternated runs each) and 10% less on a day-long
// histogram_quantile. Through the engine alone, which reads a sample at a
// time either way, it is the same (BenchmarkFetchLimitedQueryOverABlock/
// unlimited: 29-36 ms against 31-35).

// queryParts opens the parts of a time-ordered querier.
type queryParts struct {
	block func(b *tsdb.Block, mint, maxt int64) (storage.Querier, error) // one block's
	rest  func(mint, maxt int64) (storage.Querier, error)                // the TSDB's, over all it has
}

// querierInTimeOrder is p.rest(mint, maxt), with the blocks that lie
// wholly before the head and before every later block read one after the
// other.
func querierInTimeOrder(db *tsdb.DB, p queryParts, mint, maxt int64) (storage.Querier, error) {
	blocks, boundary := blocksInTimeOrder(db, mint, maxt)
	if len(blocks) == 0 {
		return p.rest(mint, maxt)
	}
	qs := make([]storage.Querier, 0, len(blocks)+1)
	closeAll := func() {
		for _, q := range qs {
			_ = q.Close()
		}
	}
	for _, b := range blocks {
		q, err := p.block(b, mint, min(maxt, boundary-1))
		if err != nil {
			// Compaction or retention closed the block since
			// db.Blocks(): the TSDB opens what is there now.
			closeAll()
			return p.rest(mint, maxt)
		}
		qs = append(qs, q)
	}
	restFrom := int64(math.MinInt64) // no rest
	if maxt >= boundary {
		q, err := p.rest(boundary, maxt)
		if err != nil {
			closeAll()
			return nil, err
		}
		qs, restFrom = append(qs, q), boundary
	}
	if len(qs) == 1 {
		return qs[0], nil
	}
	return &timeOrderedQuerier{Querier: storage.NewMergeQuerier(qs, nil, nil), parts: qs, restFrom: restFrom}, nil
}

// blocksInTimeOrder returns db's blocks that overlap [mint, maxt] and end
// at or before boundary, where every block after them starts, the head's
// in-order and out-of-order data start (the head still holds what it
// has just compacted, until it is truncated), and none of them overlaps
// another.
func blocksInTimeOrder(db *tsdb.DB, mint, maxt int64) (_ []*tsdb.Block, boundary int64) {
	head := db.Head()
	limit := head.MinTime()
	if head.MaxOOOTime() >= head.MinOOOTime() { // MinOOOTime is stale when there are none
		limit = min(limit, head.MinOOOTime())
	}
	all := db.Blocks() // sorted by MinTime
	end, prevMax := 0, int64(math.MinInt64)
	for _, b := range all {
		if b.MinTime() < prevMax {
			// b overlaps an earlier block, and the blocks after it
			// start no earlier than it does.
			limit = min(limit, b.MinTime())
			break
		}
		prevMax = b.MaxTime()
		end++
	}
	for end > 0 && all[end-1].MaxTime() > limit {
		end--
	}
	if end == 0 {
		return nil, 0
	}
	var blocks []*tsdb.Block
	for _, b := range all[:end] {
		if b.OverlapsClosedInterval(mint, maxt) {
			blocks = append(blocks, b)
		}
	}
	return blocks, all[end-1].MaxTime()
}

// timeOrderedQuerier is the querier of parts, in time order: blocks, and
// the TSDB's Querier from restFrom on, if it is the last part. Prometheus'
// merge of them (the embedded Querier) answers label names and values and
// closes them; Select merges their series itself. Prometheus' merge made
// four allocations a series, and compared labels through a heap and At
// calls that made the series again: on the data a standard benchmark run
// kept, a day-long histogram_quantile over 74,000 bucket series allocated
// 68.6 MB a query with it, 50.4 without, and a day-long
// sum by (job) (rate(...)) took 219-227 ms of CPU against 234-264.
type timeOrderedQuerier struct {
	storage.Querier
	parts    []storage.Querier
	restFrom int64 // the TSDB's Querier takes the hints' range, not its own: it starts here
}

func (q *timeOrderedQuerier) Select(ctx context.Context, _ bool, hints *storage.SelectHints, ms ...*labels.Matcher) storage.SeriesSet {
	s := &timeOrderedSet{sets: make([]storage.SeriesSet, len(q.parts)), heads: make([]storage.Series, len(q.parts))}
	for i, part := range q.parts {
		h := hints
		if i == len(q.parts)-1 && hints != nil && hints.Start < q.restFrom {
			rest := *hints
			rest.Start = q.restFrom
			h = &rest
		}
		// Sorted, to be merged.
		s.sets[i] = part.Select(ctx, true, h, ms...)
	}
	if hints != nil {
		s.limit = hints.Limit
	}
	s.once = colblock.IsReadOnce(ctx)
	return s
}

// timeOrderedSet merges the sets of the parts, each sorted by labels, by
// labels: a series that one part holds is its series, one that several
// hold reads them one after the other (concatSeries).
type timeOrderedSet struct {
	sets    []storage.SeriesSet // in time order
	heads   []storage.Series    // each set's series not yet merged, nil after its last
	current []int               // the sets whose heads make the series read
	started bool
	limit   int // of series; 0 for none
	merged  int
	cur     storage.Series
	once    bool         // colblock.ReadOnce: concat is the series read, if several parts hold it
	concat  concatSeries // for once
}

func (s *timeOrderedSet) Next() bool {
	if !s.started {
		s.started = true
		for i := range s.sets {
			s.advance(i)
		}
	} else {
		for _, i := range s.current {
			s.advance(i)
		}
	}
	s.cur, s.current = nil, s.current[:0]
	if s.limit > 0 && s.merged >= s.limit {
		return false
	}
	var least labels.Labels
	for i, h := range s.heads {
		if h == nil {
			continue
		}
		c := -1
		if len(s.current) > 0 {
			c = labels.Compare(h.Labels(), least)
		}
		switch {
		case c < 0:
			least, s.current = h.Labels(), append(s.current[:0], i)
		case c == 0:
			s.current = append(s.current, i)
		}
	}
	switch len(s.current) {
	case 0:
		return false
	case 1:
		s.cur = s.heads[s.current[0]]
	default:
		c := &s.concat
		if !s.once {
			c = &concatSeries{}
		}
		c.parts = c.inline[:0]
		for _, i := range s.current {
			c.parts = append(c.parts, s.heads[i])
		}
		s.cur = c
	}
	s.merged++
	return true
}

// advance moves set i to its next series.
func (s *timeOrderedSet) advance(i int) {
	s.heads[i] = nil
	if s.sets[i].Next() {
		s.heads[i] = s.sets[i].At()
	}
}

func (s *timeOrderedSet) At() storage.Series { return s.cur }

func (s *timeOrderedSet) Err() error {
	for _, set := range s.sets {
		if err := set.Err(); err != nil {
			return err
		}
	}
	return nil
}

func (s *timeOrderedSet) Warnings() annotations.Annotations {
	var ws annotations.Annotations
	for _, set := range s.sets {
		ws.Merge(set.Warnings())
	}
	return ws
}

// concatSeries is a series that several parts hold, whose samples do not
// overlap, read one after the other in the parts' order.
type concatSeries struct {
	parts  []storage.Series
	inline [2]storage.Series // a block and the head, or two blocks
}

func (c *concatSeries) Labels() labels.Labels { return c.parts[0].Labels() }

func (c *concatSeries) Iterator(it chunkenc.Iterator) chunkenc.Iterator {
	ci, ok := it.(*concatIterator)
	if !ok {
		ci = &concatIterator{}
	}
	ci.reset(c.parts)
	return ci
}

// concatIterator reads the iterators of a series' parts one after the
// other. Like storage.ChainedSeriesMerge, it says a histogram's counter
// reset is unknown where it goes from one part to the next or seeks, as
// the samples on either side are not neighbours in one chunk.
type concatIterator struct {
	its []chunkenc.Iterator
	i   int               // the part read now
	cur chunkenc.Iterator // its[i], nil after the last: the engine reads it for every sample

	at          chunkenc.ValueType // of the sample read, ValNone before the first and after the last
	started     bool
	consecutive bool // the sample read and the one before are neighbours in cur
}

func (c *concatIterator) reset(parts []storage.Series) {
	old := c.its[:cap(c.its)]
	c.its = c.its[:0]
	for i, p := range parts {
		var reuse chunkenc.Iterator
		if i < len(old) {
			reuse = old[i]
		}
		c.its = append(c.its, p.Iterator(reuse))
	}
	c.part(0)
	c.at, c.started, c.consecutive = chunkenc.ValNone, false, false
}

// part moves to part i.
func (c *concatIterator) part(i int) {
	c.i, c.cur = i, nil
	if i < len(c.its) {
		c.cur = c.its[i]
	}
}

func (c *concatIterator) Next() chunkenc.ValueType {
	c.at = c.next()
	return c.at
}

func (c *concatIterator) next() chunkenc.ValueType {
	changed := !c.started
	c.started = true
	for c.cur != nil {
		if vt := c.cur.Next(); vt != chunkenc.ValNone {
			c.consecutive = !changed
			return vt
		}
		if c.cur.Err() != nil {
			return chunkenc.ValNone
		}
		c.part(c.i + 1)
		changed = true
	}
	return chunkenc.ValNone
}

func (c *concatIterator) Seek(t int64) chunkenc.ValueType {
	if c.at != chunkenc.ValNone && c.cur.AtT() >= t {
		return c.at // the sample read is at or after t
	}
	c.at = c.seek(t)
	return c.at
}

func (c *concatIterator) seek(t int64) chunkenc.ValueType {
	c.started = true
	c.consecutive = false
	for c.cur != nil {
		// A part whose samples all lie before t is read to its end
		// all the same: colblock's chunk iterators give their decoded
		// columns back to a pool only there.
		if vt := c.cur.Seek(t); vt != chunkenc.ValNone {
			return vt
		}
		if c.cur.Err() != nil {
			return chunkenc.ValNone
		}
		c.part(c.i + 1)
	}
	return chunkenc.ValNone
}

var _ colblock.FloatRuns = (*concatIterator)(nil)

// Floats is the part's (colblock.FloatRuns): the float samples after the
// one read last, a chunk's at a time, never past the end of the part.
func (c *concatIterator) Floats() ([]int64, []float64) {
	if f, ok := c.cur.(colblock.FloatRuns); ok && c.at == chunkenc.ValFloat {
		return f.Floats()
	}
	return nil, nil
}

func (c *concatIterator) At() (int64, float64) { return c.cur.At() }

func (c *concatIterator) AtHistogram(h *histogram.Histogram) (int64, *histogram.Histogram) {
	t, h := c.cur.AtHistogram(h)
	if !c.consecutive && h.CounterResetHint != histogram.GaugeType {
		h.CounterResetHint = histogram.UnknownCounterReset
	}
	return t, h
}

func (c *concatIterator) AtFloatHistogram(fh *histogram.FloatHistogram) (int64, *histogram.FloatHistogram) {
	t, fh := c.cur.AtFloatHistogram(fh)
	if !c.consecutive && fh.CounterResetHint != histogram.GaugeType {
		fh.CounterResetHint = histogram.UnknownCounterReset
	}
	return t, fh
}

func (c *concatIterator) AtT() int64 { return c.cur.AtT() }

func (c *concatIterator) Err() error {
	if c.cur != nil {
		return c.cur.Err()
	}
	return nil
}
