package logstore

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/sightline-dev/sightline/storage/segment"
	"github.com/sightline-dev/sightline/storage/tenant"
)

// snapshot is what one query reads: head prefixes and segments, taken
// together under the tenant lock so that a flush finishing meanwhile
// neither hides nor doubles records.
type snapshot struct {
	heads []headView
	segs  []*segment.Reader
}

func takeSnapshot(t *tenantStore, from, to int64) snapshot {
	var sn snapshot
	sn.segs = t.Snapshot(from, to, func(h *head) {
		if len(h.recs) > 0 && h.maxT >= from && h.minT <= to {
			sn.heads = append(sn.heads, headView{recs: h.recs[:len(h.recs):len(h.recs)], minT: h.minT, maxT: h.maxT})
		}
	})
	return sn
}

func (sn snapshot) release() {
	for _, r := range sn.segs {
		r.Release()
	}
}

// unit is a piece of a search: a head, or one candidate block of a segment.
type unit struct {
	head  *headView
	seg   *segment.Reader
	block int
	minT  int64
	maxT  int64
}

// SearchRequest is a native log search.
type SearchRequest struct {
	Query    query.Query // from ParseQuery
	From, To int64       // unix nanoseconds, inclusive
	Limit    int
	Backward bool // newest first (the default in the API)
}

// SearchStats tells how much a query read.
type SearchStats struct {
	Segments       int `json:"segments"`
	BlocksRead     int `json:"blocksRead"`
	RecordsScanned int `json:"recordsScanned"`
	// RecordsCounted are the rows Count read from columns, not decoded.
	RecordsCounted int `json:"recordsCounted,omitempty"`
}

// Search returns the records of the tenant of ctx that match the request,
// at most Limit, newest first when Backward: a Fetch that stops at Limit.
func (s *Store) Search(ctx context.Context, req SearchRequest) ([]*Record, SearchStats, error) {
	var out []*Record
	st, err := s.Fetch(ctx, FetchRequest{From: before(req.From), To: req.To, Backward: req.Backward, Query: req.Query, NoMetadata: true},
		func(e Entry) error {
			out = append(out, e.Record)
			if req.Limit > 0 && len(out) >= req.Limit {
				return errLimitReached
			}
			return nil
		})
	if err != nil && !errors.Is(err, errLimitReached) {
		return nil, st, err
	}
	return out, st, nil
}

// errLimitReached stops a Fetch that has what it needs.
var errLimitReached = errors.New("enough records")

func isAll(q query.Query) bool {
	_, all := q.(*query.MatchAllQuery)
	return all
}

// before is the exclusive lower bound of a range that includes t.
func before(t int64) int64 {
	if t == math.MinInt64 {
		return t // no record is that old
	}
	return t - 1
}

// fullTextBlocks lists the blocks of r that the full-text index says may
// hold a match of relaxed; all of them (nil) when r has no index.
func fullTextBlocks(ctx context.Context, r *segment.Reader, relaxed query.Query) (map[int]bool, error) {
	x := r.Extra().(*segExtra)
	if x.index == nil {
		return nil, nil
	}
	per := x.meta.BlocksPerDoc
	res, err := x.index.SearchInContext(ctx, bleve.NewSearchRequestOptions(relaxed, (len(r.Blocks)+per-1)/per, 0, false))
	if err != nil {
		return nil, fmt.Errorf("full-text index of %s: %w", r.Dir(), err)
	}
	blocks := map[int]bool{}
	for _, hit := range res.Hits {
		d, err := strconv.Atoi(hit.ID)
		if err != nil || d < 0 || d*per >= len(r.Blocks) {
			return nil, fmt.Errorf("full-text index of %s: bad document ID %q", r.Dir(), hit.ID)
		}
		for b := d * per; b < min((d+1)*per, len(r.Blocks)); b++ {
			blocks[b] = true
		}
	}
	return blocks, nil
}

// scanUnit calls fn with every record of u in [from, to] that match
// accepts, in u's order: a head's is append order, a block's time order.
func (s *Store) scanUnit(u unit, from, to int64, match func(*Record) bool, st *SearchStats, fn func(*Record)) error {
	check := func(r *Record) {
		if r.Timestamp >= from && r.Timestamp <= to && match(r) {
			fn(r)
		}
	}
	if u.head != nil {
		st.RecordsScanned += len(u.head.recs)
		if err := s.checkScan(st); err != nil {
			return err
		}
		for _, r := range u.head.recs {
			check(r)
		}
		return nil
	}
	recs, err := readBlock(u.seg, u.block)
	if err != nil {
		return err
	}
	st.BlocksRead++
	st.RecordsScanned += len(recs)
	if err := s.checkScan(st); err != nil {
		return err
	}
	for i := range recs {
		check(&recs[i])
	}
	return nil
}

func (s *Store) checkScan(st *SearchStats) error {
	if s.opts.MaxScanRecords > 0 && st.RecordsScanned > s.opts.MaxScanRecords {
		return fmt.Errorf("%w: more than %d records to read; narrow the time range or the query", ErrTooMuchData, s.opts.MaxScanRecords)
	}
	return nil
}

// readBlock decodes block b of r. Its records get their streams from the
// block's stream column, where it has one.
func readBlock(r *segment.Reader, b int) ([]Record, error) {
	cols, err := r.ReadBlock(b, append(allColumns, colStream)...)
	if err != nil {
		return nil, err
	}
	recs, err := decodeBlock(cols, r.Blocks[b].Rows)
	if err == nil && cols[colStream] != nil {
		err = setStreams(recs, cols[colStream], r.Extra().(*segExtra).meta.Streams)
	}
	if err != nil {
		return nil, fmt.Errorf("segment %s block %d: %w", r.Dir(), b, err)
	}
	return recs, nil
}

// setStreams gives recs their streams from a stream column.
func setStreams(recs []Record, col []byte, streams []*streamStats) error {
	d := segment.Dec{B: col}
	for i := range recs {
		if id := d.Uvarint(); id < uint64(len(streams)) && d.Err == nil {
			recs[i].stream = streams[id].sk
		} else {
			return fmt.Errorf("%w: stream %d of %d", segment.ErrCorrupt, id, len(streams))
		}
	}
	return nil
}

// ByTrace returns every record of the tenant of ctx that carries trace id,
// oldest first, from the trace indexes: no time range is needed.
func (s *Store) ByTrace(ctx context.Context, id [16]byte) ([]*Record, error) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, nil
	}
	var out []*Record
	segs := t.Snapshot(math.MinInt64, math.MaxInt64, func(h *head) {
		for _, i := range h.traces[id] {
			out = append(out, h.recs[i])
		}
	})
	defer func() {
		for _, r := range segs {
			r.Release()
		}
	}()
	for _, r := range segs {
		rows := r.LookupTrace(id)
		var recs []Record
		cur := -1
		for _, row := range rows {
			b := int(row) / segment.BlockRows
			if b != cur {
				var err error
				if recs, err = readBlock(r, b); err != nil {
					return nil, err
				}
				cur = b
			}
			if i := int(row) % segment.BlockRows; i < len(recs) {
				out = append(out, &recs[i])
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Timestamp < out[j].Timestamp })
	return out, nil
}

// Histogram counts the matching records of the tenant of ctx per step,
// for a volume chart: bucket i covers [from+i*step, from+(i+1)*step).
func (s *Store) Histogram(ctx context.Context, q query.Query, from, to, step int64) ([]int64, SearchStats, error) {
	var st SearchStats
	if step <= 0 {
		return nil, st, fmt.Errorf("step must be positive")
	}
	if to < from {
		return nil, st, fmt.Errorf("end is before start")
	}
	// Unsigned: to-from overflows int64 for the widest ranges.
	n := (uint64(to)-uint64(from))/uint64(step) + 1
	if n > 11000 {
		return nil, st, fmt.Errorf("%d buckets is too many (at most 11000): use a larger step", n)
	}
	counts := make([]int64, n)
	st, err := s.Fetch(ctx, FetchRequest{From: before(from), To: to, Query: q, NoMetadata: true}, func(e Entry) error {
		counts[(uint64(e.Timestamp)-uint64(from))/uint64(step)]++
		return nil
	})
	if err != nil {
		return nil, st, err
	}
	return counts, st, nil
}

// Entry is a record as the Loki API sees it.
type Entry struct {
	Timestamp int64
	Line      string
	// Stream are the stream labels, Metadata the structured metadata.
	Stream, Metadata labels.Labels
	Record           *Record
}

// Labels are the entry's labels as LogQL sees them: its stream labels and
// its structured metadata, the stream's winning a clash. Count hands over
// these, limited to the names it is asked for.
func (e Entry) Labels() labels.Labels {
	if e.Metadata.IsEmpty() {
		return e.Stream
	}
	b := labels.NewBuilder(e.Metadata)
	e.Stream.Range(func(l labels.Label) { b.Set(l.Name, l.Value) })
	return b.Labels()
}

// FetchRequest says what Fetch reads.
type FetchRequest struct {
	// Matchers select streams by their labels.
	Matchers []*labels.Matcher
	// From and To bound the records' times: (From, To], nanoseconds.
	From, To int64
	// Backward asks for the newest first.
	Backward bool
	// LineContains are strings every record's line contains (LogQL's
	// `|= "s"` filters, which the caller still applies): blocks whose word
	// filters rule one out are not read. Fetch may still hand over records
	// without them.
	LineContains []string
	// NoMetadata leaves Entry.Metadata empty, for callers that need only
	// lines and stream labels (working it out is a fifth of a fetch).
	NoMetadata bool
	// Query, if not nil, is a native full-text query (ParseQuery) that
	// every record handed over matches: blocks are chosen by its block
	// test and, in segments with a full-text index, by the index.
	Query query.Query
}

// Fetch calls fn with every record of the tenant of ctx in (From, To] whose
// stream labels match req.Matchers: newest first when Backward, oldest
// first otherwise. Records of equal timestamp come in a fixed order, which
// Backward reverses. When fn returns an error, Fetch stops and returns it.
//
// Records are read as they are needed, not all up front: the heads and the
// candidate blocks are merged by time, and a block is decoded only once it
// may hold the next record, and dropped once passed. A caller that stops
// early (a log query's limit) thus reads a few blocks whatever the range,
// and memory does not grow with the range. The stats tell what was read.
func (s *Store) Fetch(ctx context.Context, req FetchRequest, fn func(Entry) error) (SearchStats, error) {
	var st SearchStats
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return st, nil
	}
	from, to, backward := req.From, req.To, req.Backward
	sn := takeSnapshot(t, from+1, to)
	defer sn.release()
	matches := streamMatcher(req.Matchers)
	cache := streamCache{}
	match := func(r *Record) bool { return matches(streamOf(r, cache).labels) }
	test, relaxed := lineContainsTest(req.LineContains), query.Query(nil)
	if req.Query != nil {
		if relaxed = relax(req.Query); isAll(relaxed) {
			relaxed = nil
		} else {
			byLine, byQuery := test, compileBlockTest(relaxed)
			test = func(f segment.BlockFilter) bool { return byLine(f) && byQuery(f) }
		}
		full := newMatcher(req.Query, s.im)
		byStream := match
		match = func(r *Record) bool { return byStream(r) && full.Match(r) }
	}
	units, err := fetchUnits(ctx, sn, from, to, matches, test, relaxed, &st)
	if err != nil {
		return st, err
	}

	// Units are opened in the order their records may come: by latest
	// record when backward, by earliest otherwise.
	order := make([]int, len(units))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(i, j int) bool {
		if backward {
			return units[order[i]].maxT > units[order[j]].maxT
		}
		return units[order[i]].minT < units[order[j]].minT
	})
	mayHold := func(u unit, ts int64) bool {
		if backward {
			return u.maxT >= ts
		}
		return u.minT <= ts
	}
	open := func(i int) (*fetchCursor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := &fetchCursor{unit: i, step: 1}
		err := s.scanUnit(units[i], from+1, to, match, &st, func(r *Record) { c.recs = append(c.recs, r) })
		if err != nil {
			return nil, err
		}
		if units[i].head != nil {
			// A head is in append order; blocks were sorted when written.
			sort.SliceStable(c.recs, func(a, b int) bool { return c.recs[a].Timestamp < c.recs[b].Timestamp })
		}
		if backward {
			c.pos, c.step = len(c.recs)-1, -1
		}
		return c, nil
	}

	h := &fetchHeap{backward: backward}
	next := 0 // units[order[next]] is the next unit to open
	for {
		// A unit not yet open may hold the next record if its time range
		// reaches the top's timestamp: reaches, not passes, since a record
		// of equal timestamp may come first by unit index. With nothing
		// open, the next unit is opened whatever its range.
		for next < len(order) && (h.Len() == 0 || mayHold(units[order[next]], h.top().Timestamp)) {
			c, err := open(order[next])
			if err != nil {
				return st, err
			}
			next++
			if !c.done() {
				heap.Push(h, c)
			}
		}
		if h.Len() == 0 {
			return st, nil
		}
		r := h.top()
		e := Entry{Timestamp: r.Timestamp, Line: r.Body, Stream: streamOf(r, cache).labels, Record: r}
		if !req.NoMetadata {
			e.Metadata = Metadata(r)
		}
		err := fn(e)
		if err != nil {
			return st, err
		}
		if c := h.cs[0]; c.advance() {
			heap.Fix(h, 0)
		} else {
			// Passed: the cursor, and with it the decoded block, is let go.
			heap.Pop(h)
		}
	}
}

// streamMatcher tells whether stream labels match matchers.
func streamMatcher(matchers []*labels.Matcher) func(labels.Labels) bool {
	return func(ls labels.Labels) bool {
		for _, m := range matchers {
			if !m.Matches(ls.Get(m.Name)) {
				return false
			}
		}
		return true
	}
}

// fetchUnits lists the heads of sn and the blocks of its segments that hold
// a record in (from, to] of a stream that matches, by the segments' stream
// lists, and that test (and the full-text index, for a relaxed full-text
// query) does not rule out; in a fixed order, that of records of equal
// timestamp in Fetch.
func fetchUnits(ctx context.Context, sn snapshot, from, to int64, matches func(labels.Labels) bool, test blockTest, relaxed query.Query, st *SearchStats) ([]unit, error) {
	var units []unit
	for i := range sn.heads {
		h := &sn.heads[i]
		units = append(units, unit{head: h, minT: h.minT, maxT: h.maxT})
	}
	for _, r := range sn.segs {
		st.Segments++
		var indexed map[int]bool // nil: no index to ask
		if relaxed != nil {
			var err error
			if indexed, err = fullTextBlocks(ctx, r, relaxed); err != nil {
				return nil, err
			}
		}
		blocks := map[int]bool{}
		for _, stream := range r.Extra().(*segExtra).meta.Streams {
			if stream.MaxT > from && stream.MinT <= to && matches(stream.Labels) {
				for _, b := range stream.Blocks {
					blocks[b] = true
				}
			}
		}
		ids := make([]int, 0, len(blocks))
		for b := range blocks {
			if r.Blocks[b].MaxT > from && r.Blocks[b].MinT <= to && test(r.BlockFilter(b)) && (indexed == nil || indexed[b]) {
				ids = append(ids, b)
			}
		}
		sort.Ints(ids)
		for _, b := range ids {
			units = append(units, unit{seg: r, block: b, minT: r.Blocks[b].MinT, maxT: r.Blocks[b].MaxT})
		}
	}
	return units, nil
}

// fetchCursor walks the matching records of one opened unit of a Fetch.
type fetchCursor struct {
	unit int       // index in the units: the order of equal timestamps
	recs []*Record // oldest first
	pos  int       // current record
	step int       // +1 forward, -1 backward
}

func (c *fetchCursor) done() bool { return c.pos < 0 || c.pos >= len(c.recs) }

// advance moves to the next record and reports whether there is one.
func (c *fetchCursor) advance() bool {
	c.pos += c.step
	return !c.done()
}

// fetchHeap holds the open cursors of a Fetch, the one whose current record
// comes next on top: by timestamp, then by unit index (both reversed when
// backward, so that backward is exactly forward reversed).
type fetchHeap struct {
	cs       []*fetchCursor
	backward bool
}

func (h *fetchHeap) top() *Record { return h.cs[0].recs[h.cs[0].pos] }

func (h *fetchHeap) Len() int { return len(h.cs) }

func (h *fetchHeap) Less(i, j int) bool {
	a, b := h.cs[i], h.cs[j]
	ta, tb := a.recs[a.pos].Timestamp, b.recs[b.pos].Timestamp
	before := ta < tb || (ta == tb && a.unit < b.unit)
	if h.backward {
		return !before
	}
	return before
}

func (h *fetchHeap) Swap(i, j int) { h.cs[i], h.cs[j] = h.cs[j], h.cs[i] }

func (h *fetchHeap) Push(x any) { h.cs = append(h.cs, x.(*fetchCursor)) }

func (h *fetchHeap) Pop() any {
	c := h.cs[len(h.cs)-1]
	h.cs[len(h.cs)-1] = nil
	h.cs = h.cs[:len(h.cs)-1]
	return c
}

// StreamInfo is one stream seen in a time range.
type StreamInfo struct {
	Labels  labels.Labels
	Entries int
	Bytes   int64
}

// Streams returns the streams of the tenant of ctx with records in
// [from, to] that match matchers, with their entry counts and bytes, from
// the heads' and segments' stream lists (no records are read).
func (s *Store) Streams(ctx context.Context, matchers []*labels.Matcher, from, to int64) ([]StreamInfo, int, error) {
	t := s.st.Tenant(tenant.FromContext(ctx))
	if t == nil {
		return nil, 0, nil
	}
	byKey := map[string]*StreamInfo{}
	matches := streamMatcher(matchers)
	add := func(st *streamStats) {
		if st.MaxT < from || st.MinT > to || !matches(st.Labels) {
			return
		}
		k := st.Labels.String()
		si := byKey[k]
		if si == nil {
			si = &StreamInfo{Labels: st.Labels}
			byKey[k] = si
		}
		si.Entries += st.Entries
		si.Bytes += st.Bytes
	}
	segs := t.Snapshot(from, to, func(h *head) {
		for _, st := range h.streams {
			add(st)
		}
	})
	chunks := 0
	for _, r := range segs {
		chunks += len(r.Blocks)
		for _, st := range r.Extra().(*segExtra).meta.Streams {
			add(st)
		}
		r.Release()
	}
	out := make([]StreamInfo, 0, len(byKey))
	for _, si := range byKey {
		out = append(out, *si)
	}
	sort.Slice(out, func(i, j int) bool { return labels.Compare(out[i].Labels, out[j].Labels) < 0 })
	return out, chunks, nil
}
